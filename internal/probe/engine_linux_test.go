//go:build linux && !386 && !s390x

package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEngineManyAtOnce starts checks of every outcome together, as the checks of many programs fall due
// together, and waits for each result: each gets its own, and the engine's goroutine ends once none is left.
func TestEngineManyAtOnce(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	hung, _ := scriptedServer(t, nil, true)
	refused := closedAddr(t)
	host := strings.TrimPrefix(srv.URL, "http://")

	type want struct {
		ok     bool
		detail string
	}
	checks := []struct {
		check Check
		want  want
	}{
		{Check{HTTP: srv.URL + "/ok"}, want{true, ""}},
		{Check{HTTP: srv.URL + "/fail"}, want{false, "HTTP 503 Service Unavailable"}},
		{Check{TCP: host}, want{true, ""}},
		{Check{TCP: refused}, want{false, "connection refused"}},
		{Check{HTTP: "http://" + refused + "/"}, want{false, "connection refused"}},
		{Check{HTTP: "http://" + hung + "/", Timeout: 200 * time.Millisecond}, want{false, "no answer within 200ms"}},
	}
	const rounds = 20 // of each, all in flight at once
	p := New()
	results := make([]chan Result, 0, rounds*len(checks))
	for range rounds {
		for _, c := range checks {
			if c.check.Timeout == 0 {
				c.check.Timeout = time.Minute
			}
			done := make(chan Result, 1)
			p.Start(t.Context(), c.check, done)
			results = append(results, done)
		}
	}
	for i, done := range results {
		c := checks[i%len(checks)]
		if got := <-done; got.OK != c.want.ok || !strings.Contains(got.Detail, c.want.detail) {
			t.Errorf("check %d (%+v) = %+v, want OK %t and a detail with %q", i, c.check, got, c.want.ok, c.want.detail)
		}
	}
	waitEngineIdle(t)
}

// TestEngineWakes checks that a check waiting for an answer that never comes holds up neither a check
// started after it nor its own cancellation.
func TestEngineWakes(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(ok.Close)
	hung, heads := scriptedServer(t, nil, true)
	p := New()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hanging := make(chan Result, 1)
	p.Start(ctx, Check{HTTP: "http://" + hung + "/", Timeout: time.Hour}, hanging)
	<-heads // the hanging check's request is sent: the engine waits on it

	later := make(chan Result, 1)
	p.Start(t.Context(), Check{HTTP: ok.URL, Timeout: time.Hour}, later)
	select {
	case got := <-later:
		if !got.OK {
			t.Errorf("a check started while another waited = %+v, want OK", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("a check started while another waited for an answer did not end: the engine was not woken")
	}

	cancel()
	select {
	case got := <-hanging:
		if got.OK || got.Detail != "canceled" {
			t.Errorf("the waiting check, canceled = %+v, want a failure saying canceled", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("a canceled check did not end: the engine was not woken")
	}
	waitEngineIdle(t)
}

// waitEngineIdle waits until the engine's goroutine has ended, as it must once no check is in flight.
func waitEngineIdle(t *testing.T) {
	t.Helper()
	for range 1000 {
		engine.mu.Lock()
		running := engine.running
		engine.mu.Unlock()
		if !running {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the engine still runs 10 s after its last check ended")
}

// TestEngineSchedules checks that checks due later begin no earlier than due, in the order of their due
// times whatever the order they were started in, and that one whose context ends before it is due ends
// without running.
func TestEngineSchedules(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	p := New()
	now := time.Now()
	ats := []time.Time{now.Add(time.Second), now.Add(500 * time.Millisecond), {}}
	ended := make(chan int, len(ats))
	for i, at := range ats {
		done := make(chan Result, 1)
		p.Start(t.Context(), Check{HTTP: srv.URL, Timeout: time.Minute, At: at}, done)
		go func() {
			if got := <-done; !got.OK {
				t.Errorf("check %d = %+v, want OK", i, got)
			}
			if early := at.Sub(time.Now()); early > 0 {
				t.Errorf("check %d due at %s ended %s before", i, at.Format(time.StampMicro), early)
			}
			ended <- i
		}()
	}
	for _, want := range []int{2, 1, 0} {
		if got := <-ended; got != want {
			t.Errorf("check %d ended where check %d should have: the due times were not kept in order", got, want)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan Result, 1)
	p.Start(ctx, Check{HTTP: srv.URL, Timeout: time.Minute, At: time.Now().Add(100 * time.Millisecond)}, done)
	cancel()
	if got := <-done; got.OK || got.Detail != "canceled" {
		t.Errorf("a check canceled before it was due = %+v, want a failure saying canceled", got)
	}
	waitEngineIdle(t)
}
