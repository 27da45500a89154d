package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, content := range []string{"first", "second"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("WriteFile(%q): %v", content, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("after WriteFile(%q) file = %q, %v", content, got, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %v after two WriteFile calls, want only f (no temporary file left)", entries)
	}
}

func TestWriteFileMode(t *testing.T) {
	// The mode is perm whatever the umask, and whatever mode the file had before.
	for _, perm := range []os.FileMode{0o600, 0o644, 0o640} {
		t.Run(perm.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(path, []byte("new"), perm); err != nil {
				t.Fatalf("WriteFile(%s, %v): %v", path, perm, err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != perm {
				t.Errorf("WriteFile(%s, %v) left mode %v, want %v", path, perm, fi.Mode().Perm(), perm)
			}
		})
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
		err := WriteFile(path, []byte("x"), 0o644)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("WriteFile(%s) into a missing directory = %v, want an error naming the path", path, err)
		}
	})
	t.Run("path is a directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "d")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "inside"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, []byte("x"), 0o644); err == nil {
			t.Fatalf("WriteFile over a non-empty directory %s succeeded, want an error", path)
		}
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			t.Errorf("after the failed WriteFile %s is %v, %v; want the directory untouched", path, fi, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("directory holds %v after a failed WriteFile, want no temporary file left", entries)
		}
	})
}
