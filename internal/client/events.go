package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/api"
)

// Events returns up to limit (1 to api.MaxEvents) events of the named
// program's history, newest first, with IDs below before (0 for the newest).
// With name "" it returns every program's.
func (c *Client) Events(ctx context.Context, name string, before uint64, limit int) (*api.EventPage, error) {
	path := "/api/events/history"
	if name != "" {
		path = programPath(name) + "/events"
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before != 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	var p api.EventPage
	if _, err := c.decode(ctx, http.MethodGet, path+"?"+q.Encode(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// EventStream is an open stream of the events recorded from its opening on.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// OpenEventStream opens the stream of GET /api/events. Every event recorded
// once it is open comes through Next; a history page read after opening it
// may hold some of them too, which their IDs tell apart. Close it when done.
func (c *Client) OpenEventStream(ctx context.Context) (*EventStream, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/events", "text/event-stream")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	return &EventStream{body: resp.Body, sc: sc}, nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Next returns the next event of the history, skipping the stream's other
// events (the programs' states). It fails once the stream ends: when ctx
// ends, the manager goes away, or it closed the stream of a reader that fell
// far behind.
func (s *EventStream) Next() (api.Event, error) {
	var event string
	var data bytes.Buffer
	for s.sc.Scan() {
		line := s.sc.Bytes()
		switch {
		case len(line) == 0:
			if event == "history" {
				var e api.Event
				if err := json.Unmarshal(data.Bytes(), &e); err != nil {
					return api.Event{}, fmt.Errorf("GET /api/events: decode history event: %w", err)
				}
				return e, nil
			}
			event = ""
			data.Reset()
		case line[0] == ':':
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.Write(value)
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return api.Event{}, fmt.Errorf("GET /api/events: stream broken: %w", err)
	}
	return api.Event{}, fmt.Errorf("GET /api/events: %w", io.EOF)
}
