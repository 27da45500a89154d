package install

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// entries lists the names in dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// writeMain writes dir/main.py holding body, making dir if missing.
func writeMain(t testing.TB, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIsLeftover(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{".upload-123.zip", true},
		{".staging-abc", true},
		{".old-def", true},
		{".removed-ghi", true},
		{"My_App", false},
		{"upload-123.zip", false},
		{".venv", false},
		{".stagingX", false},
		{"", false},
	} {
		if got := IsLeftover(c.name); got != c.want {
			t.Errorf("IsLeftover(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestUploadStepsLeaveLeftoverNames: what ZipFile, Stage and SetAside put in
// the uploads directory is recognised by IsLeftover, so a start after a crash
// sweeps it.
func TestUploadStepsLeaveLeftoverNames(t *testing.T) {
	up := filepath.Join(t.TempDir(), "uploads") // ZipFile makes it
	zf, err := ZipFile(up)
	if err != nil {
		t.Fatalf("ZipFile: %v", err)
	}
	defer zf.Close()
	data := makeZip(t, zfile{name: "main.py", body: "print(1)\n"})
	if _, err := zf.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := Stage(zf, int64(len(data)), up, "main.py", Limits{}); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	app := filepath.Join(up, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := SetAside(app); err != nil {
		t.Fatalf("SetAside: %v", err)
	}
	names := entries(t, up)
	if len(names) != 3 {
		t.Errorf("after ZipFile, Stage and SetAside the uploads directory holds %q, want 3 entries", names)
	}
	for _, n := range names {
		if !IsLeftover(n) {
			t.Errorf("IsLeftover(%q) = false for an entry an upload step made", n)
		}
	}
	if _, err := SetAside(app); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SetAside of a missing directory = %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestStage(t *testing.T) {
	// Two top-level entries, so that Extract keeps the directory app.
	good := makeZip(t, zfile{name: "app/main.py", body: "print(1)\n"}, zfile{name: "README", body: "x"})
	for _, c := range []struct {
		name, script string
		zip          []byte
		wantScript   string // "" when Stage must fail with a *BadArchiveError
	}{
		{"good", "app/main.py", good, "app/main.py"},
		{"script cleaned", "./app//main.py", good, "app/main.py"},
		{"script missing", "main.py", good, ""},
		{"script a directory", "app", good, ""},
		{"not a ZIP", "main.py", []byte("not a zip"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := t.TempDir()
			s, err := Stage(bytes.NewReader(c.zip), int64(len(c.zip)), up, c.script, Limits{})
			if c.wantScript == "" {
				var bad *BadArchiveError
				if !errors.As(err, &bad) {
					t.Errorf("Stage(script %q) = %v, want a *BadArchiveError", c.script, err)
				}
				if left := entries(t, up); len(left) > 0 {
					t.Errorf("a failed Stage left %q", left)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stage(script %q): %v", c.script, err)
			}
			if s.Script() != c.wantScript {
				t.Errorf("Stage(script %q).Script() = %q, want %q", c.script, s.Script(), c.wantScript)
			}
			if _, err := os.Stat(filepath.Join(s.dir, "app", "main.py")); err != nil {
				t.Errorf("the staged upload lacks its file: %v", err)
			}
			s.Discard()
			if left := entries(t, up); len(left) > 0 {
				t.Errorf("Discard left %q", left)
			}
		})
	}
}

// stageVersion stages a ZIP holding main.py with body in up.
func stageVersion(t testing.TB, up, body string) *Staged {
	t.Helper()
	data := makeZip(t, zfile{name: "main.py", body: body})
	s, err := Stage(bytes.NewReader(data), int64(len(data)), up, "main.py", Limits{})
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	return s
}

func TestJobInstall(t *testing.T) {
	python := needPython(t)
	for _, c := range []struct {
		name    string
		replace bool
		before  string // main.py in the program's directory before the Job; "" for no directory
		log     string // in the Job's output
	}{
		{name: "new", log: `upload of "app" received: 1 files`},
		{name: "new over a leftover", before: "leftover", log: "deleting the leftover directory"},
		{name: "replace", replace: true, before: "v1", log: "the new files replaced the old ones"},
		{name: "replace a missing directory", replace: true, log: "the new files replaced the old ones"},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := t.TempDir()
			dir := filepath.Join(up, "app")
			if c.before != "" {
				writeMain(t, dir, c.before)
			}
			s := stageVersion(t, up, "v2")
			job := &Job{Name: "app", Staged: s, Dir: dir, Replace: c.replace, Installer: Installer{Python: python},
				Log: slog.New(slog.DiscardHandler)}
			var out bytes.Buffer
			if err := job.Install(t.Context(), &out); err != nil {
				t.Fatalf("Install: %v\n%s", err, out.String())
			}
			if got, err := os.ReadFile(filepath.Join(dir, "main.py")); err != nil || string(got) != "v2" {
				t.Errorf("main.py after the Job = %q, %v; want the new file", got, err)
			}
			if _, err := os.Stat(filepath.Join(dir, ".venv", "bin", "python")); err != nil {
				t.Errorf("no venv after the Job: %v", err)
			}
			if !strings.Contains(out.String(), c.log) {
				t.Errorf("the Job's output lacks %q:\n%s", c.log, out.String())
			}
			if left := entries(t, up); !slices.Equal(left, []string{"app"}) {
				t.Errorf("after the Job the uploads directory holds %q, want only app", left)
			}
			s.Discard() // too late: the Job has it
			if _, err := os.Stat(filepath.Join(dir, "main.py")); err != nil {
				t.Errorf("a Discard after the Job touched the program's files: %v", err)
			}
		})
	}
}

// TestJobWithdrawn: a Job whose upload was discarded first does nothing.
func TestJobWithdrawn(t *testing.T) {
	up := t.TempDir()
	s := stageVersion(t, up, "v2")
	s.Discard()
	job := &Job{Name: "app", Staged: s, Dir: filepath.Join(up, "app")}
	if err := job.Install(t.Context(), io.Discard); err == nil || !strings.Contains(err.Error(), "withdrawn") {
		t.Errorf("Install after Discard = %v, want an error saying the upload was withdrawn", err)
	}
	if left := entries(t, up); len(left) > 0 {
		t.Errorf("after Discard and Install the uploads directory holds %q, want nothing", left)
	}
}

// TestSwapDirsPutsBack: when the new files cannot be moved in, the old ones
// are back in place and nothing is left beside them.
func TestSwapDirsPutsBack(t *testing.T) {
	up := t.TempDir()
	dir := filepath.Join(up, "app")
	writeMain(t, dir, "v1")
	err := swapDirs(filepath.Join(up, ".staging-missing"), dir, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "move the new files into") {
		t.Errorf("swapDirs from a missing staging directory = %v, want an error naming the move", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "main.py")); err != nil || string(got) != "v1" {
		t.Errorf("main.py after the failed swap = %q, %v; want the old file back", got, err)
	}
	if left := entries(t, up); !slices.Equal(left, []string{"app"}) {
		t.Errorf("after the failed swap the uploads directory holds %q, want only app", left)
	}
}

// TestZipFileDirMode: others may pass through the uploads directory, to a
// program's own directory of another user, but not list it.
func TestZipFileDirMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "uploads")
	f, err := ZipFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o711 {
		t.Errorf("ZipFile(%s): the directory has mode %v, want 0711", dir, got)
	}
}
