package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
)

// Event stream timing.
const (
	// pingEvery keeps proxies and browsers from closing an idle stream.
	pingEvery = 15 * time.Second
	// minEventGap caps "programs" events at about ten a second: a burst of
	// changes (200 programs starting) is sent as few events of the latest state.
	minEventGap = 100 * time.Millisecond
	// writeTimeout drops a client that stops reading instead of blocking forever.
	writeTimeout = 10 * time.Second
	// retryMillis tells EventSource how long to wait before reconnecting.
	retryMillis = 2000
)

// sseWriter writes one Server-Sent Events stream. Only the handler's goroutine uses it.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

// errHeadOnly ends a stream asked for with HEAD once its headers are sent.
var errHeadOnly = errors.New("HEAD request: headers only")

// startSSE sends the stream's headers and the reconnection delay.
func startSSE(w http.ResponseWriter, r *http.Request) (*sseWriter, error) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil, errHeadOnly
	}
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	return s, s.send(fmt.Appendf(nil, "retry: %d\n\n", retryMillis))
}

// event sends one event whose data is v as JSON (one line: JSON escapes newlines).
func (s *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	return s.eventData(name, data)
}

// eventData sends one event whose data is JSON already encoded, which may be
// shared with other streams: it is written as it is, not copied.
func (s *sseWriter) eventData(name string, data []byte) error {
	return s.send([]byte("event: "+name+"\ndata: "), data, []byte("\n\n"))
}

func (s *sseWriter) ping() error { return s.send([]byte(": ping\n\n")) }

// end lifts the write deadline, which would otherwise outlive the stream on a
// connection that serves further requests.
func (s *sseWriter) end() { _ = s.rc.SetWriteDeadline(time.Time{}) }

// send writes the parts of one message and flushes them to the client.
func (s *sseWriter) send(parts ...[]byte) error {
	// Without a server WriteTimeout, each message gets its own deadline.
	// Writers that cannot have one (test recorders) just go without.
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	for _, p := range parts {
		if _, err := s.w.Write(p); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}

// sessionEnded reports whether the request came with a session that has
// ended since (logged out, or dropped to make room). Streams check it before
// each event and ping, so that a logout ends the streams of every tab of that
// session before they send anything more; an expiry ends them through the
// context (see serve).
func (h *handler) sessionEnded(r *http.Request) bool {
	id := infoOf(r).session
	if id == "" || h.auth == nil {
		return false
	}
	_, ok := h.auth.Session(id)
	return !ok
}

// events streams GET /api/events: the programs at once, then after every
// change, until the client goes away or the server shuts down. The data of a
// "programs" event is encoded once per state for all streams (programsEvent).
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	changed, cancel := h.sup.Subscribe()
	defer cancel()
	history, cancelHistory := h.sup.SubscribeEvents()
	defer cancelHistory()
	s, err := startSSE(w, r)
	if err != nil {
		return // the client is gone, or asked for the headers only
	}
	defer s.end()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	gap := time.NewTimer(0)
	defer gap.Stop()
	pending := true // the first event goes out at once
	for {
		// While the gap since the last event runs, changes only mark the
		// stream pending; the subscription coalesces them meanwhile.
		var gapC <-chan time.Time
		if pending {
			gapC = gap.C
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			pending = true
			continue
		case e, ok := <-history:
			if !ok {
				// Too far behind to be told every event: the client
				// reconnects and reads what it missed from the history.
				return
			}
			if h.sessionEnded(r) {
				return
			}
			err = s.event("history", newEventJSON(&e))
		case <-ping.C:
			if h.sessionEnded(r) {
				return
			}
			err = s.ping()
		case <-gapC:
			if h.sessionEnded(r) {
				return
			}
			pending = false
			var data []byte
			if data, err = h.programsEvent.get(time.Now()); err == nil {
				err = s.eventData("programs", data)
			}
			gap.Reset(minEventGap)
			ping.Reset(pingEvery)
		}
		if err != nil {
			return // the client is gone or stopped reading
		}
	}
}

// streamPage reads the page a log stream starts with when it is asked for
// (lines=L), and returns it with the byte offset where following starts: the
// end of the page, or -1 without one (the end of the log once followed).
func (h *handler) streamPage(q url.Values, name, path string) (*api.LogPage, int64, error) {
	if !q.Has("lines") {
		return nil, -1, nil
	}
	n, err := intParam(q, "lines", defaultLogLines, 1, api.MaxLogLines)
	if err != nil {
		return nil, 0, err
	}
	p, err := h.logs.Page(path, 1, n)
	if err != nil {
		return nil, 0, fmt.Errorf("logs of %q: %w", name, err)
	}
	body := pageBody(p)
	if body.Files, err = logFiles(path); err != nil {
		return nil, 0, fmt.Errorf("logs of %q: %w", name, err)
	}
	return &body, p.SizeBytes, nil
}

// logStream streams GET /api/programs/{name}/logs/stream: "lines" events with
// the lines written to the program's log after the request, as a JSON array.
// With lines=L, a "page" event with page 1 of L lines comes first, and the
// lines events carry the lines after that page: a client that shows both,
// such as the dashboard after each (re)connection, shows every line once.
func (h *handler) logStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	path, err := h.sup.LogPath(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, from, err := h.streamPage(r.URL.Query(), name, path)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		w.Header().Set("Retry-After", "30")
		h.writeError(w, r, &requestError{http.StatusServiceUnavailable, fmt.Sprintf(
			"too many live log streams: at most %d at once; close some log views (dashboards, pyvisor logs -f) and try again",
			cap(h.streams))})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	batches := make(chan []string)
	followed := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		send := func(lines []string) error {
			select {
			case batches <- lines:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if from < 0 {
			followed <- h.follows.Follow(ctx, path, func() { close(started) }, send)
		} else {
			followed <- h.follows.FollowFrom(ctx, path, from, func() { close(started) }, send)
		}
	}()
	defer func() { cancel(); <-followed }()
	// The response starts only once following has: a client that reads the
	// log's last page after the stream opened misses no line in between
	// (one that asked for the page in the stream gets each line once).
	select {
	case <-started:
	case err := <-followed:
		followed <- err // for the deferred wait
		h.writeError(w, r, fmt.Errorf("follow the log of %q: %w", name, err))
		return
	}

	s, err := startSSE(w, r)
	if err != nil {
		return
	}
	defer s.end()
	if page != nil {
		if err := s.event("page", page); err != nil {
			return
		}
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-followed:
			followed <- err // for the deferred wait
			if ctx.Err() == nil {
				h.log.Error("follow log", "program", name, "err", err)
				// The stream ends either way; the client learns why if it can.
				_ = s.event("error", api.Error{Error: fmt.Sprintf("following the log stopped: %v", err)})
			}
			return
		case lines := <-batches:
			if h.sessionEnded(r) {
				return
			}
			err = s.event("lines", lines)
			ping.Reset(pingEvery)
		case <-ping.C:
			if h.sessionEnded(r) {
				return
			}
			err = s.ping()
		}
		if err != nil {
			return
		}
	}
}
