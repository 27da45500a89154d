package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// webhookServer records the events of the notifications it gets, by program.
func webhookServer(t *testing.T) (*httptest.Server, chan map[string]string) {
	got := make(chan map[string]string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		got <- m
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// nextWebhook returns the next notification of event, skipping others.
func nextWebhook(t *testing.T, got chan map[string]string, event string) map[string]string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-got:
			if m["event"] == event {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s notification within 30 s", event)
		}
	}
}

// TestNotifyE2E runs a manager whose program crashes until broken, with a
// webhook and a command to notify, and checks the notifications, pyvisor
// notify-test, and a reload that changes the notify list.
func TestNotifyE2E(t *testing.T) {
	hook, got := webhookServer(t)
	port := testkit.FreePort(t)
	argsFile := filepath.Join(t.TempDir(), "args")
	head := fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\n", port)
	programs := "programs:\n  - name: crasher\n    script: crasher.py\n    restart: {delay_seconds: 0.1, max_consecutive_failures: 3}\n"
	notify := fmt.Sprintf("notify:\n  - webhook: %q\n    on: [crashed, broken]\n"+
		"  - command: [/bin/sh, -c, 'echo \"$1 $2\" >> \"$0\"', %q, '{program}', '{event}']\n    on: [broken]\n", hook.URL+"/hooks/secret", argsFile)
	dir := writeProject(t, head+notify+programs)
	if err := os.WriteFile(filepath.Join(dir, "crasher.py"), []byte("import sys\nsys.exit(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startManager(t, dir)
	waitAPI(t, port)
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	if m := nextWebhook(t, got, "crashed"); m["program"] != "crasher" || !strings.Contains(m["text"], "crasher on ") {
		t.Errorf("crashed notification = %v, want program crasher and a sentence", m)
	}
	if m := nextWebhook(t, got, "broken"); m["program"] != "crasher" {
		t.Errorf("broken notification = %v, want program crasher", m)
	}
	waitFileContains(t, argsFile, "crasher broken\n")

	r := cli("notify-test", "--url", url)
	if r.code != exitOK || !strings.Contains(r.stdout, "notify[0]: webhook http://127.0.0.1:") || strings.Contains(r.stdout, "secret") ||
		!strings.Contains(r.stdout, "notify[1]: command /bin/sh: sent") {
		t.Errorf("pyvisor notify-test = %v; want both targets sent, the webhook without its path", r)
	}
	if m := nextWebhook(t, got, "test"); m["program"] != "" {
		t.Errorf("test notification = %v, want no program", m)
	}
	waitFileContains(t, argsFile, " test\n")

	// A reload applies a new list: a target that fails makes notify-test fail.
	yaml := head + "notify:\n  - command: [/bin/false]\n" + programs
	if err := os.WriteFile(filepath.Join(dir, "process_manager.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli("reload", "--url", url); r.code != exitOK || strings.Contains(r.stdout, "notify") {
		t.Fatalf("pyvisor reload = %v, want it applied, notify not needing a restart", r)
	}
	r = cli("notify-test", "--url", url)
	if r.code != exitFailed || !strings.Contains(r.stdout, "notify[0]: command /bin/false: failed: exit status 1") {
		t.Errorf("pyvisor notify-test after the reload = %v; want exit 1 and the command's failure", r)
	}
}
