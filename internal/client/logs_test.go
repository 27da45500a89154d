package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLogPage(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/programs/web app/logs" || r.URL.Query().Get("page") != "2" || r.URL.Query().Get("lines") != "3" {
			http.Error(w, "wrong request "+r.URL.String(), http.StatusTeapot)
			return
		}
		fmt.Fprint(w, `{"lines":["a","b","c"],"page":2,"pages":4,"first_line":4,"last_line":6,"total_lines":10,"size_bytes":20}`)
	})
	p, err := c.LogPage(t.Context(), "web app", 2, 3)
	if err != nil {
		t.Fatalf("LogPage(web app, 2, 3): %v", err)
	}
	if strings.Join(p.Lines, ",") != "a,b,c" || p.Page != 2 || p.Pages != 4 || p.FirstLine != 4 || p.LastLine != 6 || p.TotalLines != 10 || p.SizeBytes != 20 {
		t.Errorf("LogPage(web app, 2, 3) = %+v, want the page as served", p)
	}
}

func TestSearchLogs(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		want := "case=1&cursor=c%2B1&limit=5&q=a+b%26c&regex=1"
		if r.URL.Path != "/api/programs/web app/logs/search" || r.URL.RawQuery != want {
			http.Error(w, "wrong request "+r.URL.String()+", want the query "+want, http.StatusTeapot)
			return
		}
		fmt.Fprint(w, `{"matches":[{"file":2,"line":7,"page":1,"text":"a b&c"}],"scanned_bytes":99,"next_cursor":"c2"}`)
	})
	s := LogSearch{Text: "a b&c", Regex: true, CaseSensitive: true, Limit: 5, Cursor: "c+1"}
	res, err := c.SearchLogs(t.Context(), "web app", s)
	if err != nil {
		t.Fatalf("SearchLogs(web app, %+v): %v", s, err)
	}
	if len(res.Matches) != 1 || res.Matches[0].File != 2 || res.Matches[0].Line != 7 || res.Matches[0].Text != "a b&c" ||
		res.ScannedBytes != 99 || res.NextCursor == nil || *res.NextCursor != "c2" {
		t.Errorf("SearchLogs(web app, %+v) = %+v, want the answer as served", s, res)
	}
}

// chanWriter hands every write to a channel, so a test can wait for output.
type chanWriter chan string

func (w chanWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// sseServer serves the log stream of program "p" as the manager does: the
// retry line, then each chunk of events as given, flushed; then it waits for
// the client to leave, or ends the stream when hold is false.
func sseServer(t *testing.T, chunks []string, hold bool) *Client {
	return server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/programs/p/logs/stream" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"no such program: \"?\""}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n")
		for _, c := range chunks {
			fmt.Fprint(w, c)
			w.(http.Flusher).Flush()
		}
		if hold {
			<-r.Context().Done()
		}
	})
}

// follow opens the stream of name's log and copies it to w, as pyvisor logs -f -n 0 does.
func follow(ctx context.Context, c *Client, name string, w io.Writer) error {
	s, err := c.OpenLogStream(ctx, name, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Copy(ctx, w)
}

func TestFollowLogs(t *testing.T) {
	c := sseServer(t, []string{
		": ping\n\n",
		"event: lines\ndata: [\"one\",\"two \\u001b[31mred\\u001b[0m\"]\n\n",
		"event: future\ndata: {}\n\n",
		"event: lines\ndata: [\"three\"]\n\n",
	}, true)
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chanWriter, 10)
	done := make(chan error, 1)
	go func() { done <- follow(ctx, c, "p", out) }()
	var got strings.Builder
	for !strings.Contains(got.String(), "three\n") {
		select {
		case s := <-out:
			got.WriteString(s)
		case err := <-done:
			t.Fatalf("follow ended early: %v; wrote %q", err, got.String())
		}
	}
	if want := "one\ntwo \x1b[31mred\x1b[0m\nthree\n"; got.String() != want {
		t.Errorf("follow wrote %q, want %q", got.String(), want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow after its context was cancelled: %v, want nil", err)
	}
}

// TestFollowLogsWithPage checks that a stream opened with lines asks for them
// and writes the page it starts with before the lines that follow.
func TestFollowLogsWithPage(t *testing.T) {
	var query string
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n")
		fmt.Fprint(w, "event: page\ndata: {\"lines\":[\"old 1\",\"old 2\"],\"page\":1,\"pages\":4,\"first_line\":7,\"last_line\":8,\"total_lines\":8,\"size_bytes\":40}\n\n")
		fmt.Fprint(w, "event: lines\ndata: [\"new\"]\n\n")
	})
	s, err := c.OpenLogStream(t.Context(), "p", 2)
	if err != nil {
		t.Fatalf("OpenLogStream(p, 2): %v", err)
	}
	defer s.Close()
	var out strings.Builder
	err = s.Copy(t.Context(), &out)
	if err == nil || !strings.Contains(err.Error(), "ended the stream") {
		t.Errorf("Copy of a stream the server ended: %v, want an error saying so", err)
	}
	if want := "old 1\nold 2\nnew\n"; out.String() != want {
		t.Errorf("Copy wrote %q, want %q (the page's lines, then the new ones)", out.String(), want)
	}
	if query != "lines=2" {
		t.Errorf("OpenLogStream(p, 2) sent the query %q, want lines=2", query)
	}
}

func TestFollowLogsEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   string
	}{
		{"manager reports an error", []string{"event: lines\ndata: [\"x\"]\n\n", "event: error\ndata: {\"error\":\"following the log stopped: boom\"}\n\n"}, "boom"},
		{"manager closes the stream", []string{"event: lines\ndata: [\"x\"]\n\n"}, "ended the stream"},
		{"garbled lines", []string{"event: lines\ndata: [1,2]\n\n"}, "decode lines event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sseServer(t, tc.chunks, false)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang fails, not blocks the suite
			defer cancel()
			var out strings.Builder
			err := follow(ctx, c, "p", &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("follow over %q: %v, want an error mentioning %q", tc.chunks, err, tc.want)
			}
		})
	}
}

func TestFollowLogsUnknownProgram(t *testing.T) {
	c := sseServer(t, nil, false)
	err := follow(t.Context(), c, "nope", &strings.Builder{})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("follow(nope): %v, want ErrNotFound", err)
	}
}
