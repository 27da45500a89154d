package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// waitEventsOutput runs `pyvisor events args...` until its output matches re.
func waitEventsOutput(t *testing.T, re *regexp.Regexp, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := cli(append([]string{"events"}, args...)...)
		if r.code == 0 && re.MatchString(r.stdout) {
			return r.stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("pyvisor events %q: %v; want output matching %s", args, r, re)
		}
		time.Sleep(100 * time.Millisecond) // the history gives no notice to a client that does not follow
	}
}

// TestEventsCommand records events in a real manager, reads them with the
// CLI (and follows them), and reads them back after the manager was killed
// with SIGKILL and started again.
func TestEventsCommand(t *testing.T) {
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
restart: {delay_seconds: 0.1, max_consecutive_failures: 2}
programs:
  - {name: crasher, script: crash.py}
  - {name: one, script: sleeper.py}
`, port))
	testkit.WriteFile(t, filepath.Join(dir, "crash.py"), "import sys\nsys.exit(1)\n")
	m := startManager(t, dir)
	m.waitStdout(t, "Process Manager started")
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	stamp := `[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d `

	out := waitEventsOutput(t, regexp.MustCompile(`(?m)^`+stamp+`crasher broken: `), "crasher", "--url", url)
	want := regexp.MustCompile(`^` + stamp + `crasher started: pid \d+\n` +
		stamp + `crasher exited: exit status 1 after \d+\.\d s\n` +
		stamp + `crasher restarting: in 100ms \(failure 1 in a row\)\n` +
		stamp + `crasher started: pid \d+\n` +
		stamp + `crasher exited: exit status 1 after \d+\.\d s\n` +
		stamp + `crasher broken: exit status 1; 2 failures in a row: broken.*\n$`)
	if !want.MatchString(out) {
		t.Errorf("pyvisor events crasher:\n%s\nwant it to match %s", out, want)
	}
	if r := cli("events", "-n", "2", "--url", url); r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("pyvisor events -n 2: %v; want 2 lines", r)
	}
	if r := cli("events", "nosuch", "--url", url); r.code != 1 || !strings.Contains(r.stderr, `no program named "nosuch"`) {
		t.Errorf("pyvisor events nosuch: %v; want exit 1 naming the known programs", r)
	}
	if r := cli("events", "-n", "1001", "--url", url); r.code != 2 {
		t.Errorf("pyvisor events -n 1001: %v; want exit 2", r)
	}

	t.Run("follow", func(t *testing.T) {
		waitEventsOutput(t, regexp.MustCompile(`one started: pid`), "one", "--url", url)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var stdout, stderr testkit.SyncBuffer
		done := make(chan int, 1)
		go func() {
			done <- runClient(ctx, "events", []string{"one", "-f", "-n", "1", "--url", url}, os.Getenv, &stdout, &stderr)
		}()
		testkit.Eventually(t, "the first event", func() bool { return strings.Contains(stdout.String(), "one started") })
		if r := cli("stop", "one", "--url", url); r.code != 0 {
			t.Fatalf("stop one: %v", r)
		}
		testkit.Eventually(t, "the stop to be followed", func() bool { return strings.Contains(stdout.String(), "one stopped: killed by SIGTERM after ") })
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("pyvisor events -f ended with %d after Ctrl+C, want 0; stderr %s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], "one stop: requested") || strings.Contains(stdout.String(), "crasher") {
			t.Errorf("pyvisor events one -f -n 1 printed:\n%s\nwant the start, the stop request and the stop, of one only", stdout.String())
		}
		if r := cli("start", "one", "--url", url); r.code != 0 {
			t.Fatalf("start one: %v", r)
		}
	})

	// Killed with SIGKILL, the manager loses nothing it recorded.
	before := waitEventsOutput(t, regexp.MustCompile(`one started: pid \d+\n$`), "--url", url, "-n", "1000")
	m.cmd.Process.Kill()
	m.cmd.Wait()
	startManager(t, dir).waitStdout(t, "Process Manager started")
	useLocalToken(t, dir) // each start writes a new one
	after := waitEventsOutput(t, regexp.MustCompile(`one adopted: pid \d+`), "--url", url, "-n", "1000")
	if !strings.HasPrefix(after, before) {
		t.Errorf("events after a SIGKILL and a restart:\n%s\nwant them to begin with those before:\n%s", after, before)
	}
	info, err := os.Stat(filepath.Join(dir, "process_manager.events.jsonl"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("history file: %v, %v; want mode 0600", info, err)
	}
}
