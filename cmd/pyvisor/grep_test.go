package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestLogsGrep searches the live log of a real manager's program and
// backups beside it with pyvisor logs --grep.
func TestLogsGrep(t *testing.T) {
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: lines, script: lines.py}
`, port))
	testkit.WriteFile(t, filepath.Join(dir, "lines.py"), linesPy)
	// Backups as rotation names them: .1 the newest.
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	numbered := func(word string, from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "%s %d\n", word, i)
		}
		return b.String()
	}
	testkit.WriteFile(t, filepath.Join(dir, "log", "lines.log.1"), numbered("tick", 31, 60))
	testkit.WriteFile(t, filepath.Join(dir, "log", "lines.log.2"), numbered("tick", 1, 30))
	testkit.WriteFile(t, filepath.Join(dir, "log", "lines.log.3"), numbered("bulk", 1, 1500))
	startManager(t, dir)
	waitPrograms(t, dir, "lines")
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFileContains(t, filepath.Join(dir, "log", "lines.log"), "line 50\n")

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"across files, newest first", []string{"--grep", `(line|tick) \d*5$`, "--regex"}, `lines.log:45: line 45
lines.log:35: line 35
lines.log:25: line 25
lines.log:15: line 15
lines.log:5: line 5
lines.log.1:25: tick 55
lines.log.1:15: tick 45
lines.log.1:5: tick 35
lines.log.2:25: tick 25
lines.log.2:15: tick 15
lines.log.2:5: tick 5
`},
		{"-n stops early", []string{"--grep", "tick", "-n", "2"}, "lines.log.1:30: tick 60\nlines.log.1:29: tick 59\n"},
		{"case ignored", []string{"--grep", "LINE 4", "-n", "1"}, "lines.log:49: line 49\n"},
		{"case matched", []string{"--grep", "LINE 4", "--case"}, ""},
		{"a regex literal without --regex", []string{"--grep", `line \d`}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"logs", "lines", "--url", url}, c.args...)
			if r := cli(args...); r.code != 0 || r.stdout != c.want || r.stderr != "" {
				t.Errorf("pyvisor %s: %v; want exit 0 and\n%s", strings.Join(args, " "), r, c.want)
			}
		})
	}

	t.Run("more matches than one answer holds", func(t *testing.T) {
		r := cli("logs", "lines", "--url", url, "--grep", "bulk", "-n", "1200")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if r.code != 0 || len(lines) != 1200 || lines[0] != "lines.log.3:1500: bulk 1500" || lines[1199] != "lines.log.3:301: bulk 301" {
			t.Errorf("logs lines --grep bulk -n 1200: exit %d, %d lines from %q to %q, stderr %q; want exit 0 and 1200 lines from bulk 1500 down to bulk 301",
				r.code, len(lines), lines[0], lines[len(lines)-1], r.stderr)
		}
		r = cli("logs", "lines", "--url", url, "--grep", "bulk")
		if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != defaultGrepMatches {
			t.Errorf("logs lines --grep bulk: exit %d, %d lines; want exit 0 and %d", r.code, n, defaultGrepMatches)
		}
	})

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad regex", []string{"lines", "--grep", "a(", "--regex"}, 1, "missing closing )"},
		{"unknown program", []string{"nosuch", "--grep", "x"}, 1, `no program named "nosuch"; known programs: lines`},
		{"with -f", []string{"lines", "--grep", "x", "-f"}, 2, "does not follow"},
		{"--regex alone", []string{"lines", "--regex"}, 2, "--grep needs a PATTERN"},
		{"-n 0", []string{"lines", "--grep", "x", "-n", "0"}, 2, "at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"logs", "--url", url}, c.args...)
			if r := cli(args...); r.code != c.code || !strings.Contains(r.stderr, c.stderr) || r.stdout != "" {
				t.Errorf("pyvisor %s: %v; want exit %d and %q on stderr", strings.Join(args, " "), r, c.code, c.stderr)
			}
		})
	}
}
