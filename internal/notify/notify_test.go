package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// source stands in for the supervisor's event hub: emit records an event
// and hands it to the subscribers, as the hub does.
type source struct {
	mu       sync.Mutex
	history  []supervisor.Event
	subs     []chan supervisor.Event
	failures []string
	failed   chan struct{} // a token per failure recorded
}

func newSource() *source { return &source{failed: make(chan struct{}, 100)} }

func (s *source) SubscribeEvents() (<-chan supervisor.Event, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan supervisor.Event, 256)
	s.subs = append(s.subs, ch)
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.subs = slices.DeleteFunc(s.subs, func(c chan supervisor.Event) bool { return c == ch })
	}
}

// subscriptions is how many subscriptions are open.
func (s *source) subscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

func (s *source) History(program string, before uint64, limit int) ([]supervisor.Event, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []supervisor.Event
	for i := len(s.history) - 1; i >= 0 && len(out) < limit; i-- {
		if e := s.history[i]; before == 0 || e.ID < before {
			out = append(out, e)
		}
	}
	var next uint64
	if len(out) == limit && out[len(out)-1].ID > 1 {
		next = out[len(out)-1].ID
	}
	return out, next
}

func (s *source) RecordNotifyFailure(program, detail string) {
	s.mu.Lock()
	s.failures = append(s.failures, program+": "+detail)
	s.mu.Unlock()
	s.failed <- struct{}{}
}

// emit records an event now; deliver false keeps it from the subscribers,
// as if they had fallen behind.
func (s *source) emit(program string, kind supervisor.EventKind, exit *int, detail string, deliver bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := supervisor.Event{ID: uint64(len(s.history) + 1), Time: time.Now(), Program: program, Kind: kind, ExitCode: exit, Detail: detail}
	s.history = append(s.history, e)
	for _, ch := range s.subs {
		if deliver {
			ch <- e
		}
	}
}

// closeSubs closes the subscriptions, as the hub does to a reader too far behind.
func (s *source) closeSubs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		close(ch)
	}
	s.subs = nil
}

// subscribed waits until n subscriptions were made.
func (s *source) subscribed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.subs)
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notifier did not subscribe to the events (%d subscriptions, want %d)", got, n)
		}
		time.Sleep(5 * time.Millisecond) // polling a test double: nothing to wait on
	}
}

// hook is a webhook server that records the bodies it gets and answers with
// the statuses of answer in turn (then 200).
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []Message
	got    chan Message
}

func newHook(t *testing.T, answer ...int) *hook {
	h := &hook{got: make(chan Message, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m Message
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %q (%s), want a JSON message: %v", data, r.Header.Get("Content-Type"), err)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, m)
		n := len(h.bodies)
		h.mu.Unlock()
		if n <= len(answer) {
			w.WriteHeader(answer[n-1])
			return
		}
		h.got <- m
	}))
	t.Cleanup(h.Close)
	return h
}

// next returns the next message answered 200.
func (h *hook) next(t *testing.T) Message {
	t.Helper()
	select {
	case m := <-h.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request within 10 s")
	}
	return Message{}
}

func (h *hook) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// start runs a notifier with cfg over src until the test ends.
func start(t *testing.T, src *source, cfg *config.Config, opts Options) *Notifier {
	t.Helper()
	opts.Host = "testhost"
	n := New(src, cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	src.subscribed(t, 1)
	return n
}

func webhookConfig(url string, on ...string) *config.Config {
	cfg := config.Default("/")
	if on == nil {
		on = config.NotifyEvents()
	}
	cfg.Notify = []config.Notify{{Webhook: url, On: on, Programs: []string{"*"}}}
	return cfg
}

func TestWebhookBody(t *testing.T) {
	h := newHook(t)
	src := newSource()
	start(t, src, webhookConfig(h.URL+"/T000/secret"), Options{})
	src.emit("web", supervisor.EventExited, code(1), "exit status 1 after 3.1 s", true)
	m := h.next(t)
	if m.Program != "web" || m.Event != "crashed" || m.Detail != "exit status 1 after 3.1 s" || m.Host != "testhost" {
		t.Errorf("webhook body = %+v, want program web, event crashed, the detail, host testhost", m)
	}
	if _, err := time.Parse(time.RFC3339, m.Time); err != nil {
		t.Errorf("webhook body time %q is not RFC 3339: %v", m.Time, err)
	}
	if want := "web on testhost crashed: exit status 1 after 3.1 s."; m.Text != want {
		t.Errorf("webhook body text = %q, want %q", m.Text, want)
	}
}

func TestWebhookRetriesAfter500(t *testing.T) {
	h := newHook(t, 500, 503)
	src := newSource()
	start(t, src, webhookConfig(h.URL), Options{FirstRetry: 10 * time.Millisecond})
	src.emit("web", supervisor.EventBroken, nil, "10 failures in a row", true)
	if m := h.next(t); m.Event != "broken" {
		t.Errorf("webhook got %+v after two 5xx answers, want the broken event", m)
	}
	if got := h.requests(); got != 3 {
		t.Errorf("webhook got %d requests, want 3 (two answered 5xx, then one 200)", got)
	}
	if len(src.failures) != 0 {
		t.Errorf("a delivery that succeeded at the third attempt recorded failures: %q", src.failures)
	}
}

func TestWebhookNotRetriedAfter404(t *testing.T) {
	h := newHook(t, 404)
	src := newSource()
	start(t, src, webhookConfig(h.URL), Options{FirstRetry: time.Millisecond})
	src.emit("web", supervisor.EventBroken, nil, "", true)
	<-src.failed
	if got := h.requests(); got != 1 {
		t.Errorf("webhook answering 404 got %d requests, want 1", got)
	}
	if f := src.failures[0]; !strings.Contains(f, "404") || strings.Contains(f, "secret") {
		t.Errorf("failure recorded = %q, want the status", f)
	}
}

func TestRateLimitFoldsFlapping(t *testing.T) {
	h := newHook(t)
	src := newSource()
	start(t, src, webhookConfig(h.URL), Options{Window: 300 * time.Millisecond})
	for range 5 {
		src.emit("flappy", supervisor.EventExited, code(1), "exit status 1", true)
	}
	src.emit("steady", supervisor.EventExited, code(2), "exit status 2", true)
	got := map[string]Message{}
	for range 2 {
		m := h.next(t)
		got[m.Program] = m
	}
	if m := got["flappy"]; m.Detail != "exit status 1" {
		t.Errorf("first notification of a flapping program = %+v, want it plain", m)
	}
	if m := got["steady"]; m.Detail != "exit status 2" {
		t.Errorf("another program's notification = %+v, want it sent at once, plain", m)
	}
	m := h.next(t)
	if m.Program != "flappy" || !strings.Contains(m.Text, "(and 3 more since ") {
		t.Errorf("notification after the window = %+v, want flappy's latest, with \"and 3 more since\"", m)
	}
	time.Sleep(400 * time.Millisecond) // a window with nothing to send: nothing may come
	if n := h.requests(); n != 3 {
		t.Errorf("webhook got %d requests for 6 crashes within one window, want 3", n)
	}
}

func TestWebhookThatHangs(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	src := newSource()
	start(t, src, webhookConfig(srv.URL), Options{Timeout: 100 * time.Millisecond, FirstRetry: 20 * time.Millisecond, RetryFor: 500 * time.Millisecond})
	src.emit("web", supervisor.EventBroken, nil, "", true)
	select {
	case <-src.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("a webhook that never answers: no failure recorded within 10 s")
	}
	mu.Lock()
	n := requests
	mu.Unlock()
	// 100 ms per attempt and waits of 20, 40, 80, 160 ms fit at most 4 attempts in 500 ms.
	if n < 2 || n > 4 {
		t.Errorf("a webhook that never answers got %d requests within a 500 ms budget, want 2-4", n)
	}
	if f := src.failures[0]; !strings.Contains(f, "no answer within 100ms") || !strings.Contains(f, "attempts") {
		t.Errorf("failure recorded = %q, want the timeout and the number of attempts", f)
	}
}

func TestCommandNotification(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	src := newSource()
	cfg := config.Default("/")
	cfg.Notify = []config.Notify{{
		Command:  []string{"/bin/sh", "-c", `printf '%s\n' "$@" > "$0"`, out, "{program}", "{event}", "{detail}", "at {time}"},
		On:       []string{config.NotifyInstallFailed},
		Programs: []string{"up*"},
	}}
	start(t, src, cfg, Options{})
	src.emit("web", supervisor.EventInstallFail, nil, "not for this entry", true)
	src.emit("upload", supervisor.EventExited, code(1), "not on this event", true)
	src.emit("upload", supervisor.EventInstallFail, nil, "pip install failed", true)
	var data []byte
	for deadline := time.Now().Add(10 * time.Second); len(data) == 0 || !strings.HasSuffix(string(data), "\n"); {
		if time.Now().After(deadline) {
			t.Fatalf("the command wrote %q within 10 s", data)
		}
		time.Sleep(10 * time.Millisecond) // the command's file: nothing to wait on
		data, _ = os.ReadFile(out)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "upload" || lines[1] != "install_failed" || lines[2] != "pip install failed" || !strings.HasPrefix(lines[3], "at 20") {
		t.Errorf("the command got arguments %q, want upload, install_failed, the detail and \"at TIME\"", lines)
	}
}

func TestCommandTimeoutKillsItsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := config.Default("/")
	cfg.Notify = []config.Notify{{Command: []string{"/bin/sh", "-c", `sleep 60 & echo $! > "$0"; wait`, pidFile}}}
	n := New(newSource(), cfg, Options{Timeout: 200 * time.Millisecond})
	res := n.Test(t.Context())
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "killed after 200ms") {
		t.Fatalf("Test() with a command that hangs = %+v, want it killed after 200ms", res)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatal(err)
	}
	// The kill went to the group: the background sleep is gone (a zombie at most, until init reaps it).
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := syscall.Kill(pid, 0)
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command's background child %d still runs after the command's timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTestNotification(t *testing.T) {
	h := newHook(t)
	cfg := webhookConfig(h.URL+"/hooks/secret-token", config.NotifyBroken)
	cfg.Notify[0].Programs = []string{"nothing-matches"}
	cfg.Notify = append(cfg.Notify, config.Notify{Command: []string{"/bin/sh", "-c", "echo no pager here >&2; exit 3"}})
	n := New(newSource(), cfg, Options{Host: "testhost"})
	res := n.Test(t.Context())
	if len(res) != 2 {
		t.Fatalf("Test() = %+v, want a result per target", res)
	}
	if res[0].Err != nil || strings.Contains(res[0].Target, "secret") || !strings.HasPrefix(res[0].Target, "notify[0]: webhook http://127.0.0.1") {
		t.Errorf("Test() webhook result = %+v, want success, the target without its path", res[0])
	}
	if m := h.next(t); m.Event != "test" || m.Program != "" || !strings.Contains(m.Text, "testhost") {
		t.Errorf("test notification body = %+v, want event test, no program", m)
	}
	if err := res[1].Err; err == nil || !strings.Contains(err.Error(), "exit status 3: no pager here") {
		t.Errorf("Test() failing command result = %v, want its exit status and output", err)
	}
}

func TestRecoveredAfterBroken(t *testing.T) {
	h := newHook(t)
	src := newSource()
	cfg := webhookConfig(h.URL, config.NotifyBroken, config.NotifyRecovered)
	cfg.Programs = []config.Program{{Name: "web", Restart: config.RestartPolicy{FailureReset: 200 * time.Millisecond}}}
	start(t, src, cfg, Options{})
	src.emit("web", supervisor.EventBroken, nil, "10 failures in a row", true)
	if m := h.next(t); m.Event != "broken" {
		t.Fatalf("first notification = %+v, want broken", m)
	}
	src.emit("web", supervisor.EventStarted, nil, "", true)
	if m := h.next(t); m.Event != "recovered" || !strings.Contains(m.Text, "web on testhost has recovered") {
		t.Errorf("notification after a start that lasts = %+v, want recovered", m)
	}
}

func TestCatchesUpAfterFallingBehind(t *testing.T) {
	h := newHook(t)
	src := newSource()
	src.emit("old", supervisor.EventBroken, nil, "before the notifier ran", true)
	start(t, src, webhookConfig(h.URL), Options{})
	src.emit("web", supervisor.EventBroken, nil, "missed", false)
	src.closeSubs()
	if m := h.next(t); m.Program != "web" || m.Detail != "missed" {
		t.Errorf("after the events channel closed, got %+v, want the missed event from the history", m)
	}
	src.subscribed(t, 1)
	src.emit("api", supervisor.EventBroken, nil, "", true)
	if m := h.next(t); m.Program != "api" {
		t.Errorf("after catching up, got %+v, want the next event", m)
	}
	if n := h.requests(); n != 2 {
		t.Errorf("webhook got %d requests, want 2 (the event before the notifier ran is not news)", n)
	}
}
