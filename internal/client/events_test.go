package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
)

func TestEvents(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/api/programs/web app/events" && q.Get("limit") == "2" && q.Get("before") == "9":
			fmt.Fprint(w, `{"events":[{"id":8,"time":"2024-12-05T03:12:01Z","program":"web app","event":"exited","detail":"exit status 1 after 3.1 s","exit_code":1,"exit_signal":null,"run_seconds":3.1,"actor":null}],"next":null}`)
		case r.URL.Path == "/api/events/history" && q.Get("limit") == "5" && !q.Has("before"):
			fmt.Fprint(w, `{"events":[],"next":4}`)
		default:
			http.Error(w, "wrong request "+r.URL.String(), http.StatusTeapot)
		}
	})
	p, err := c.Events(t.Context(), "web app", 9, 2)
	if err != nil {
		t.Fatalf("Events(web app, 9, 2): %v", err)
	}
	if len(p.Events) != 1 || p.Next != nil || p.Events[0].ID != 8 || *p.Events[0].ExitCode != 1 || p.Events[0].Time.Day() != 5 {
		t.Errorf("Events(web app, 9, 2) = %+v, want the page as served", p)
	}
	p, err = c.Events(t.Context(), "", 0, 5)
	if err != nil || len(p.Events) != 0 || p.Next == nil || *p.Next != 4 {
		t.Errorf("Events(\"\", 0, 5) = %+v, %v; want no events, next 4", p, err)
	}
}

func TestEventStream(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\nevent: programs\ndata: {\"programs\":[]}\n\n: ping\n\n")
		fmt.Fprint(w, "event: history\ndata: {\"id\":3,\"program\":\"a\",\"event\":\"started\"}\n\n")
		fmt.Fprint(w, "event: history\ndata: {\"id\":4,\"program\":\"b\",\"event\":\"stop\"}\n\n")
	})
	s, err := c.OpenEventStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range []string{"3 a started", "4 b stop"} {
		e, err := s.Next()
		if got := fmt.Sprintf("%d %s %s", e.ID, e.Program, e.Event); err != nil || got != want {
			t.Fatalf("Next() = %s, %v; want %s", got, err, want)
		}
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next() at the end of the stream: %v, want io.EOF", err)
	}
}
