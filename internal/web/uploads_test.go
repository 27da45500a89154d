package web

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// inOrder reports whether each of parts occurs in s after the one before it.
func inOrder(s string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// TestUploadRuns uploads working programs and follows each through its install
// to the state it should reach, checking its files, its log and its entry in
// uploaded_programs.yaml.
func TestUploadRuns(t *testing.T) {
	cases := []struct {
		name, prog, prefix string
		args, autostart    string
		group, wantGroup   string
		wantArgs           []string
		wantState          supervisor.State
	}{
		{name: "flat ZIP", prog: "flat", args: " --port, 8080 , ,two words,", autostart: "true", group: " Web servers ", wantGroup: "Web servers",
			wantArgs: []string{"--port", "8080", "two words"}, wantState: supervisor.Running},
		{name: "ZIP of one folder is flattened", prog: "nested app", prefix: "app-1.0/", autostart: "on",
			wantState: supervisor.Running},
		{name: "not started automatically", prog: "manual", autostart: "", wantState: supervisor.Stopped},
	}
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	var dirs []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call := fmt.Sprintf("POST /api/programs (name %q)", c.prog)
			r := f.send(t, "POST", "/api/programs", []field{{"name", c.prog}, {"script", "main.py"},
				{"args", c.args}, {"autostart", c.autostart}, {"group", c.group}}, appZip(t, c.prefix, "v1"))
			if r.status != 201 {
				t.Fatalf("%s = %d %s, want 201", call, r.status, r.body)
			}
			dir := filepath.Join(f.sup.UploadsDir(), install.DirName(c.prog))
			dirs = append(dirs, filepath.Base(dir))
			p := decode[api.Program](t, call, r)
			if p.State != "installing" || !p.Uploaded || p.Cwd != dir || p.Script != filepath.Join(dir, "main.py") ||
				!slices.Equal(p.Args, c.wantArgs) || p.Group != c.wantGroup {
				t.Errorf("%s: %+v, want installing, uploaded, in %s, args %q, group %q", call, p, dir, c.wantArgs, c.wantGroup)
			}

			st := f.settled(t, c.prog)
			if st.State != c.wantState {
				t.Fatalf("%s: after the install the program is %s (error %q), want %s\nlog:\n%s",
					call, st.State, st.Error, c.wantState, f.logText(t, c.prog))
			}
			banners := []string{"received: 2 files unpacked", "===== pyvisor: installing",
				"[SUCCESS] virtual environment created", "installation finished successfully"}
			if c.wantState == supervisor.Running {
				f.waitLog(t, c.prog, "upload v1 up")
				banners = append(banners, fmt.Sprintf("upload v1 up, args %s", pyList(c.wantArgs)))
			}
			if log := f.logText(t, c.prog); !inOrder(log, banners...) {
				t.Errorf("%s: the log lacks, in this order, %q:\n%s", call, banners, log)
			}
			for _, file := range []string{"main.py", "lib/helper.txt", ".venv/bin/python"} {
				if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
					t.Errorf("%s: %v", call, err)
				}
			}
			entry, ok := f.uploadedEntries(t)[c.prog]
			if !ok || entry.Script != "main.py" || entry.Cwd != dir || entry.Enabled != (c.wantState == supervisor.Running) ||
				!slices.Equal(entry.Args, c.wantArgs) || entry.Group != c.wantGroup {
				t.Errorf("%s: uploaded_programs.yaml has %+v (listed: %v), want script main.py in %s, group %q", call, entry, ok, dir, c.wantGroup)
			}
			if left := f.leftovers(t, dirs...); len(left) > 0 {
				t.Errorf("%s: left in %s: %q", call, f.sup.UploadsDir(), left)
			}
		})
	}
}

// pyList is how Python prints a list of strings.
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// demoPy imports the package of the demo wheel.
const demoPy = `import time, demo
print("demo says:", demo.GREETING, flush=True)
while True:
    time.sleep(3600)
`

// TestUploadRequirements installs requirements.txt offline: a wheel found in
// the --find-links directory, a wheel shipped in the ZIP, and a requirement
// that cannot be found, whose pip error must reach the log while it is written.
func TestUploadRequirements(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	wheel := testkit.WriteDemoWheel(t, wheelDir(f))
	srv := serve(t, f.h)
	cases := []struct {
		name, prog, requirements string
		ship                     bool // the wheel is in the ZIP, under wheels/
		wantState                supervisor.State
		wantLog                  string
	}{
		{name: "wheel from --find-links", prog: "linked", requirements: "demo==0.1\n",
			wantState: supervisor.Running, wantLog: "demo says: greetings from the demo wheel"},
		{name: "wheel shipped in the ZIP", prog: "shipped", requirements: "./wheels/demo-0.1-py3-none-any.whl\n", ship: true,
			wantState: supervisor.Running, wantLog: "demo says: greetings from the demo wheel"},
		{name: "requirement not found", prog: "unfound", requirements: "nosuchpkg-pyvisor-test==1.0\n",
			wantState: supervisor.Error, wantLog: "No matching distribution found for nosuchpkg-pyvisor-test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries := []zipEntry{{name: "app.py", body: demoPy}, {name: "requirements.txt", body: c.requirements}}
			if c.ship {
				entries = append(entries, zipEntry{name: "wheels/demo-0.1-py3-none-any.whl", body: string(wheel)})
			}
			call := fmt.Sprintf("POST /api/programs (name %q, requirements %q)", c.prog, c.requirements)
			r := f.send(t, "POST", "/api/programs", []field{{"name", c.prog}, {"script", "app.py"}, {"autostart", "1"}},
				zipOf(t, entries...))
			if r.status != 201 {
				t.Fatalf("%s = %d %s, want 201", call, r.status, r.body)
			}
			// The log viewer's stream shows the install while it runs.
			s := openStream(t, srv.URL+programPath(c.prog, "/logs/stream"))
			if c.wantState == supervisor.Error {
				waitStreamed(t, s, c.wantLog)
			}
			st := f.settled(t, c.prog)
			if st.State == supervisor.Running {
				f.waitLog(t, c.prog, c.wantLog)
			}
			log := f.logText(t, c.prog)
			if st.State != c.wantState || !strings.Contains(log, c.wantLog) {
				t.Fatalf("%s: the program is %s (error %q), want %s with %q in the log:\n%s",
					call, st.State, st.Error, c.wantState, c.wantLog, log)
			}
			if c.wantState == supervisor.Error && (!strings.Contains(st.Error, "installation failed") ||
				!strings.Contains(log, "[ERROR] pip install failed")) {
				t.Errorf("%s: error %q and log:\n%s\nwant the install failure in both", call, st.Error, log)
			}
			if c.wantState == supervisor.Error {
				// Without its requirements it would only fail: refused, the reason kept.
				r := f.do(t, "POST", programPath(c.prog, "/start"), nil)
				st, _ := f.sup.Status(c.prog)
				if r.status != 409 || !strings.Contains(r.body, "installation failed") || !strings.Contains(st.Error, "installation failed") {
					t.Errorf("POST start of %q after its install failed = %d %s, then error %q; want 409 with the install's failure, kept",
						c.prog, r.status, r.body, st.Error)
				}
			}
		})
	}
}

// waitStreamed waits until a log stream delivers a line containing text.
func waitStreamed(t *testing.T, s *stream, text string) {
	t.Helper()
	var seen []string
	for !slices.ContainsFunc(seen, func(l string) bool { return strings.Contains(l, text) }) {
		var lines []string
		ev := s.next(t, "lines")
		if err := json.Unmarshal([]byte(ev.data), &lines); err != nil {
			t.Fatalf("lines event %q: %v", ev.data, err)
		}
		seen = append(seen, lines...)
	}
}

// TestSplitArgs checks the reading of the args field.
func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"--port,8080", []string{"--port", "8080"}},
		{"  --name , two words  ,", []string{"--name", "two words"}},
		{"a,,b", []string{"a", "b"}},
	}
	for _, c := range cases {
		if got := splitArgs(c.in); !slices.Equal(got, c.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestParseAutostart checks the reading of the autostart field.
func TestParseAutostart(t *testing.T) {
	cases := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"true", true, false}, {"on", true, false}, {"1", true, false}, {" TRUE ", true, false},
		{"false", false, false}, {"off", false, false}, {"0", false, false}, {"", false, false},
		{"yes please", false, true}, {"2", false, true},
	}
	for _, c := range cases {
		got, err := parseAutostart(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("parseAutostart(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

// TestUploadReplacesLeftover uploads a program whose directory is already there
// without a program (left by a crash): the leftover goes, the upload takes its place.
func TestUploadReplacesLeftover(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	dir := filepath.Join(f.sup.UploadsDir(), "old_tool")
	if err := os.MkdirAll(filepath.Join(dir, "stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := f.send(t, "POST", "/api/programs", []field{{"name", "old tool"}, {"script", "main.py"}, {"autostart", "true"}}, appZip(t, "", "v1"))
	if r.status != 201 {
		t.Fatalf("POST /api/programs (name %q) = %d %s, want 201", "old tool", r.status, r.body)
	}
	if st := f.settled(t, "old tool"); st.State != supervisor.Running {
		t.Fatalf("upload over a leftover directory: %s (error %q), want running\nlog:\n%s", st.State, st.Error, f.logText(t, "old tool"))
	}
	if _, err := os.Stat(filepath.Join(dir, "stale")); !os.IsNotExist(err) {
		t.Errorf("upload over a leftover directory: the leftover's files: %v, want them gone", err)
	}
	if !strings.Contains(f.logText(t, "old tool"), "deleting the leftover directory "+dir) {
		t.Errorf("upload over a leftover directory: the log does not say it deleted %s:\n%s", dir, f.logText(t, "old tool"))
	}
}
