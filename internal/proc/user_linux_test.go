package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// procStatus returns the fields of /proc/PID/status named by keys ("Uid", "Gid", "Groups"), each the rest
// of its line with runs of blanks made single spaces.
func procStatus(t *testing.T, pid int, keys ...string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the status of pid %d: %v", pid, err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		k, v, _ := strings.Cut(line, ":")
		for _, want := range keys {
			if k == want {
				out[k] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	return out
}

// TestStartAsUser starts a shell as nobody that starts a child of its own; both run with nobody's real,
// effective, saved and filesystem ids and only nobody's group, and write to a log file that nobody could
// not open itself (it is in a directory only root may enter).
func TestStartAsUser(t *testing.T) {
	t.Parallel()
	_, cred := testkit.Nobody(t, "starting a program as another user")
	logPath := filepath.Join(t.TempDir(), "out.log") // t.TempDir is mode 0700, root's
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Path:       "/bin/sh",
		Args:       []string{"-c", `sleep 300 & echo "child $!"; echo "id $(id -u) $(id -g)"; wait`},
		Dir:        "/",
		Env:        []string{"PATH=/usr/bin:/bin"},
		Output:     log,
		Credential: cred,
	}
	p, err := Start(spec)
	log.Close()
	if err != nil {
		t.Fatalf("Start(%+v) as nobody: %v", spec, err)
	}
	t.Cleanup(func() { killGroup(t, p) })

	var child int
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(logPath)
		text = string(data)
		if strings.Contains(text, "id ") {
			_, after, _ := strings.Cut(text, "child ")
			child, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(after, "\n", 2)[0]))
			break
		}
	}
	if child == 0 {
		t.Fatalf("log of the shell started as nobody = %q, want its child's pid and its ids", text)
	}
	ids := fmt.Sprintf("%d %d %d %d", cred.Uid, cred.Uid, cred.Uid, cred.Uid)
	gids := fmt.Sprintf("%d %d %d %d", cred.Gid, cred.Gid, cred.Gid, cred.Gid)
	want := map[string]string{"Uid": ids, "Gid": gids, "Groups": strconv.FormatUint(uint64(cred.Gid), 10)}
	for _, pid := range []int{p.Identity().PID, child} {
		if got := procStatus(t, pid, "Uid", "Gid", "Groups"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("/proc/%d/status (started as nobody, leader %d) Uid, Gid, Groups = %v, want %v",
				pid, p.Identity().PID, got, want)
		}
	}
	if wantLine := fmt.Sprintf("id %d %d", cred.Uid, cred.Gid); !strings.Contains(text, wantLine) {
		t.Errorf("log of the shell started as nobody = %q, want a line %q", text, wantLine)
	}
}

// TestStartAsUserDenied starts programs as nobody where nobody may not go: the start error says where, or
// the program's own complaint reaches its output.
func TestStartAsUserDenied(t *testing.T) {
	t.Parallel()
	_, cred := testkit.Nobody(t, "starting a program as another user")
	base := t.TempDir()
	// t.TempDir's own parent is root's and mode 0700: let nobody through to base.
	if err := os.Chmod(filepath.Dir(base), 0o711); err != nil {
		t.Fatal(err)
	}
	private, open := filepath.Join(base, "private"), filepath.Join(base, "open")
	if err := os.Mkdir(private, 0o700); err != nil { // nobody may not enter
		t.Fatal(err)
	}
	// nobody may enter open, but not run rootonly nor read secret.py.
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	rootOnly := filepath.Join(open, "rootonly")
	if err := os.WriteFile(rootOnly, []byte("#!/bin/sh\necho ran\n"), 0o744); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(open, "secret.py")
	if err := os.WriteFile(secret, []byte("print('read')\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	privateExe := filepath.Join(private, "tool")
	if err := os.WriteFile(privateExe, []byte("#!/bin/sh\necho ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    Spec
		wantErr []string // substrings of Start's error; nil: Start succeeds
		wantOut []string // substrings of the output of a started program
	}{
		{
			name:    "working directory",
			spec:    Spec{Path: "/bin/true", Dir: filepath.Join(private, "sub")},
			wantErr: []string{"permission denied", "uid " + strconv.Itoa(int(cred.Uid)) + " may not enter " + private, "working directory"},
		},
		{
			name:    "directory of the executable",
			spec:    Spec{Path: privateExe, Dir: "/"},
			wantErr: []string{"permission denied", "may not enter " + private + " (drwx------", "on the way to the executable " + privateExe},
		},
		{
			name:    "executable for its owner only",
			spec:    Spec{Path: rootOnly, Dir: open},
			wantErr: []string{"permission denied", "may not execute " + rootOnly + " (-rwxr--r--, owner uid 0"},
		},
		{
			name:    "unreadable script",
			spec:    Spec{Path: "/usr/bin/python3.11", Args: []string{secret}, Dir: open},
			wantOut: []string{"can't open file", "Permission denied"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(tt.spec.Path); err != nil {
				t.Skipf("%s is needed: %v", tt.spec.Path, err)
			}
			tt.spec.Credential = cred
			tt.spec.Env = []string{"PATH=/usr/bin:/bin"}
			if tt.wantErr != nil {
				p, err := Start(tt.spec)
				if err == nil {
					killGroup(t, p)
					t.Fatalf("Start(%+v) as nobody succeeded, want an error", tt.spec)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Start(%+v) as nobody = %q, want it to contain %q", tt.spec, err, w)
					}
				}
				return
			}
			p, out := startWithPipe(t, tt.spec)
			waitDone(t, p, 10*time.Second)
			if st := p.Exit(); st.Code == 0 {
				t.Errorf("Start(%+v) as nobody: program exited with %v, want a failure", tt.spec, st)
			}
			line := out.line(t)
			for _, w := range tt.wantOut {
				if !strings.Contains(line, w) {
					t.Errorf("Start(%+v) as nobody: output %q, want it to contain %q", tt.spec, line, w)
				}
			}
		})
	}
}
