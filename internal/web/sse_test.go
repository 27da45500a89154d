package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// sseEvent is one Server-Sent Event as a client reads it.
type sseEvent struct {
	name, data string
	retry      string
}

// stream is an open event stream.
type stream struct {
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// serve runs h on a real HTTP server configured by NewServer, which the
// streams need (flushing, deadlines, shutdown).
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer("", h)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// openStream connects to an event stream and reads its events in the background.
func openStream(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	s := &stream{resp: resp, events: make(chan sseEvent, 100), cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.name = "comment"
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			case strings.HasPrefix(line, "retry: "):
				ev.retry = line[len("retry: "):]
			}
		}
	}()
	return s
}

// next returns the next event named name, skipping others.
func (s *stream) next(t *testing.T, name string) sseEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended while waiting for a %q event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 20 s", name)
		}
	}
}

func TestEventsStream(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	srv := serve(t, f.h)
	s := openStream(t, srv.URL+"/api/events")
	if ct := s.resp.Header.Get("Content-Type"); s.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /api/events = %d %s, want 200 text/event-stream", s.resp.StatusCode, ct)
	}
	checkSecurityHeaders(t, "GET /api/events", s.resp.Header)
	if ev := <-s.events; ev.retry != "2000" {
		t.Errorf("GET /api/events: first message %+v, want retry: 2000", ev)
	}
	// The current state comes at once, with no change needed.
	var list programList
	if err := json.Unmarshal([]byte(s.next(t, "programs").data), &list); err != nil {
		t.Fatalf("programs event: %v", err)
	}
	if len(list.Programs) != 5 || list.Programs[0].State != "running" || list.Title != "Test <b>board</b>" {
		t.Fatalf("first programs event: %+v, want the 5 programs with sleeper running", list)
	}

	r := f.do(t, "POST", "/api/programs/sleeper/stop", nil)
	if r.status != 200 {
		t.Fatalf("POST /api/programs/sleeper/stop = %d %s", r.status, r.body)
	}
	for {
		list = programList{}
		json.Unmarshal([]byte(s.next(t, "programs").data), &list)
		if list.Programs[0].State == "stopped" {
			break
		}
	}
	if list.Programs[0].PID != nil {
		t.Errorf("programs event after stop: sleeper pid %d, want null", *list.Programs[0].PID)
	}
}

// TestEventsCoalesced checks that a burst of changes does not turn into one
// event per change: events come at most every minEventGap.
func TestEventsCoalesced(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	s := openStream(t, srv.URL+"/api/events")
	s.next(t, "programs")
	start := time.Now()
	for range 20 {
		f.do(t, "POST", programPath("sleeper", "/restart"), nil)
	}
	// Count the events of the burst and of a short time after it; sampling
	// rounds (every 200 ms) add a few of their own.
	window := time.Since(start) + 3*minEventGap
	after := time.After(3 * minEventGap)
	n := 0
	for drained := false; !drained; {
		select {
		case ev := <-s.events:
			if ev.name == "programs" {
				n++
			}
		case <-after:
			drained = true
		}
	}
	// 20 restarts make at least 40 changes; events are capped by the gap (+2 for
	// the edges of the window).
	if limit := int(window/minEventGap) + 2; n > limit || n == 0 {
		t.Errorf("20 restarts and %v gave %d programs events, want 1 to %d", window, n, limit)
	}
}

func TestLogStream(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	path, _ := f.sup.LogPath("My App")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("old line written before connecting\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openStream(t, srv.URL+programPath("My App", "/logs/stream"))
	if ct := s.resp.Header.Get("Content-Type"); s.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET logs/stream = %d %s, want 200 text/event-stream", s.resp.StatusCode, ct)
	}
	// The response starts once the server follows the log, so a line written
	// as soon as the headers arrived is the first one the stream delivers.
	const line = "new line <script>alert(1)</script>"
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(out, line)
	out.Close()
	var lines []string
	if err := json.Unmarshal([]byte(s.next(t, "lines").data), &lines); err != nil {
		t.Fatalf("lines event: %v", err)
	}
	if !slices.Equal(lines, []string{line}) {
		t.Errorf("first lines event %q, want just the line written once the stream had opened, %q", lines, line)
	}

	t.Run("unknown program", func(t *testing.T) {
		r := f.do(t, "GET", "/api/programs/nope/logs/stream", nil)
		if r.status != 404 {
			t.Errorf("GET /api/programs/nope/logs/stream = %d %s, want 404", r.status, r.body)
		}
	})
}

// TestLogStreamWithPage checks that with lines=L the stream starts with page
// 1 and goes on with the lines after it.
func TestLogStreamWithPage(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	path, _ := f.sup.LogPath("My App")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("line 1\nline 2\nline 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := programPath("My App", "/logs/stream?lines=2")
	s := openStream(t, srv.URL+target)
	if ct := s.resp.Header.Get("Content-Type"); s.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET %s = %d %s, want 200 text/event-stream", target, s.resp.StatusCode, ct)
	}
	<-s.events // retry
	ev := <-s.events
	var page api.LogPage
	if err := json.Unmarshal([]byte(ev.data), &page); ev.name != "page" || err != nil {
		t.Fatalf("GET %s: first event %+v (%v); want a page", target, ev, err)
	}
	if len(page.Files) != 1 || page.Files[0].File != 0 || page.Files[0].SizeBytes != 21 {
		t.Errorf("GET %s: page event lists the files %+v; want the live log of 21 bytes alone", target, page.Files)
	}
	page.Files = nil
	want := api.LogPage{Lines: []string{"line 2", "line 3"}, Page: 1, Pages: 2, FirstLine: 2, LastLine: 3, TotalLines: 3, SizeBytes: 21}
	if fmt.Sprint(page) != fmt.Sprint(want) {
		t.Errorf("GET %s: page event %+v; want %+v", target, page, want)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(out, "line 4")
	out.Close()
	var lines []string
	if err := json.Unmarshal([]byte(s.next(t, "lines").data), &lines); err != nil {
		t.Fatalf("lines event: %v", err)
	}
	if !slices.Equal(lines, []string{"line 4"}) {
		t.Errorf("GET %s: first lines event %q after line 4 was written; want [line 4]", target, lines)
	}

	for _, tt := range []struct{ name, query string }{
		{"no lines", "lines=0"},
		{"too many lines", "lines=5001"},
		{"not a number", "lines=all"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := programPath("My App", "/logs/stream?"+tt.query)
			if r := f.do(t, "GET", target, nil); r.status != 400 || !strings.Contains(r.body, "lines=") {
				t.Errorf("GET %s = %d %s; want 400 naming the parameter", target, r.status, r.body)
			}
		})
	}
}

// TestStreamsEnd checks that both streams' handlers return when the client
// goes away and when the server shuts down.
func TestStreamsEnd(t *testing.T) {
	f := newFixture(t, baseConfig)
	targets := []string{"/api/events", programPath("sleeper", "/logs/stream")}
	returned := make(chan string, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.h.ServeHTTP(w, r)
		returned <- r.URL.Path
	})
	waitReturned := func(t *testing.T, why string) {
		t.Helper()
		var got []string
		for range targets {
			select {
			case p := <-returned:
				got = append(got, p)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: only %q of the stream handlers returned within 10 s", why, got)
			}
		}
	}

	t.Run("client goes away", func(t *testing.T) {
		srv := serve(t, h)
		for _, target := range targets {
			s := openStream(t, srv.URL+target)
			<-s.events // connected and streaming
			s.cancel()
		}
		waitReturned(t, "after the clients left")
	})
	t.Run("server shuts down", func(t *testing.T) {
		srv := serve(t, h)
		var streams []*stream
		for _, target := range targets {
			s := openStream(t, srv.URL+target)
			<-s.events
			streams = append(streams, s)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := srv.Config.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown with open streams: %v, want nil", err)
		}
		waitReturned(t, "after Shutdown")
		for _, s := range streams {
			for range s.events { // returns once the response body has ended
			}
		}
	})
}

func TestNewServer(t *testing.T) {
	srv := NewServer("127.0.0.1:0", http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("NewServer: ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; want all set",
			srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	if srv.WriteTimeout != 0 {
		t.Errorf("NewServer: WriteTimeout %v, want none (it would cut the event streams)", srv.WriteTimeout)
	}
}

// TestStreamHead checks that HEAD on a stream answers with its headers and
// returns instead of streaming into the void.
func TestStreamHead(t *testing.T) {
	f := newFixture(t, baseConfig)
	for _, target := range []string{"/api/events", programPath("sleeper", "/logs/stream")} {
		t.Run(target, func(t *testing.T) {
			done := make(chan response, 1)
			go func() { done <- f.do(t, "HEAD", target, nil) }()
			select {
			case r := <-done:
				if ct := r.header.Get("Content-Type"); r.status != 200 || ct != "text/event-stream" || r.body != "" {
					t.Errorf("HEAD %s = %d %q %q, want 200 text/event-stream and no body", target, r.status, ct, r.body)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("HEAD %s still streaming after 10 s", target)
			}
		})
	}
}

// quietConfig samples once an hour, so that only the test's own changes make
// events: a stale "programs" event would not be followed by a fresh one.
const quietConfig = `
web_ui: {title: quiet}
sampling: {interval_seconds: 3600}
programs:
  - {name: sleeper, script: sleeper.py, enabled: false}
  - {name: idle, script: sleeper.py, enabled: false}
`

// TestEventsShared checks that concurrent event streams, which share the
// encoding of each state, all get the current state after every change, and
// the same bytes as GET /api/programs.
func TestEventsShared(t *testing.T) {
	f := newFixture(t, quietConfig)
	srv := serve(t, f.h)
	streams := make([]*stream, 4)
	for i := range streams {
		streams[i] = openStream(t, srv.URL+"/api/events")
		waitPrograms(t, streams[i], fmt.Sprintf("stream %d: the first event", i), func(p program) bool { return p.State == "stopped" })
	}

	for _, step := range []struct{ action, state string }{
		{"start", "running"},
		{"stop", "stopped"},
		{"start", "running"},
		{"restart", "running"},
		{"stop", "stopped"},
	} {
		call := "POST " + programPath("sleeper", "/"+step.action)
		r := f.do(t, "POST", programPath("sleeper", "/"+step.action), nil)
		if r.status != 200 {
			t.Fatalf("%s = %d %s, want 200", call, r.status, r.body)
		}
		st := decode[program](t, call, r)
		if st.State != step.state {
			t.Fatalf("%s: state %q, want %q", call, st.State, step.state)
		}
		for i, s := range streams {
			data := waitPrograms(t, s, fmt.Sprintf("stream %d after %s", i, call), func(p program) bool {
				return p.State == st.State && equalPID(p.PID, st.PID)
			})
			if st.State != "stopped" {
				continue
			}
			// Stopped, nothing in the list depends on the time: the event and
			// a listing made now are the same bytes.
			list := f.do(t, "GET", "/api/programs", nil)
			if want := strings.TrimSuffix(list.body, "\n"); data != want {
				t.Errorf("stream %d after %s: programs event\n%s\nwant the body of GET /api/programs\n%s", i, call, data, want)
			}
		}
	}
}

func equalPID(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// waitPrograms waits for a "programs" event in which the program "sleeper"
// satisfies cond, and returns its data.
func waitPrograms(t *testing.T, s *stream, what string, cond func(program) bool) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	last := "none"
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("%s: stream ended; last programs event: %s", what, last)
			}
			if ev.name != "programs" {
				continue
			}
			last = ev.data
			var list programList
			if err := json.Unmarshal([]byte(ev.data), &list); err != nil {
				t.Fatalf("%s: programs event is not the JSON wanted (%v): %s", what, err, ev.data)
			}
			for _, p := range list.Programs {
				if p.Name == "sleeper" && cond(p) {
					return ev.data
				}
			}
		case <-timeout:
			t.Fatalf("%s: no programs event with the wanted sleeper within 20 s; last one: %s", what, last)
		}
	}
}
