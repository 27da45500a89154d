package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// systemdAnalyze returns the path of systemd-analyze and the systemd version it belongs to. Without it
// the test is skipped, except under CI, which installs it.
func systemdAnalyze(t *testing.T) (string, int) {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("systemd-analyze is missing under CI (install the systemd package): %v", err)
		}
		t.Skipf("systemd-analyze is missing: %v", err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		t.Fatalf("systemd-analyze --version: %v", err)
	}
	m := regexp.MustCompile(`^systemd (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze --version printed %q; want it to start with \"systemd N\"", out)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return path, v
}

// TestSystemdVerify runs systemd's own checker on every generated unit: it must have nothing to say.
// The units are made for the systemd installed here, whose version decides whether the back-off keys
// are written. A template is checked as its first instance, a copy named NAME@1, since the checker
// loads units by their names; each timer is checked with its service beside it.
func TestSystemdVerify(t *testing.T) {
	analyze, version := systemdAnalyze(t)
	cfg := everyKey(t)
	units, _ := Systemd(cfg, SystemdOptions{Prefix: "pyvisor-", Version: version})
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		path := filepath.Join(dir, u.Name)
		if err := os.WriteFile(path, u.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(u.Name, "@.") {
			path = filepath.Join(dir, instanceUnit(u.Name, "1"))
			if err := os.WriteFile(path, u.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, path)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(paths, " "), err, out)
	}
}
