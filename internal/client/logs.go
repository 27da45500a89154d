package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/api"
)

// LogPage returns page page (1 = newest) of the named program's log, split
// into pages of lines lines (1 to api.MaxLogLines).
func (c *Client) LogPage(ctx context.Context, name string, page, lines int) (*api.LogPage, error) {
	q := url.Values{"page": {strconv.Itoa(page)}, "lines": {strconv.Itoa(lines)}}
	var p api.LogPage
	if _, err := c.decode(ctx, http.MethodGet, programPath(name)+"/logs?"+q.Encode(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// LogSearch is a search of a program's log and its backups.
type LogSearch struct {
	// Text is the text to find in a line; with Regex, a regular expression
	// (RE2 syntax).
	Text  string
	Regex bool
	// CaseSensitive off (the default) ignores case.
	CaseSensitive bool
	// Limit is the most matches of one answer, 1 to api.MaxSearchLimit; 0
	// leaves it to the manager (100).
	Limit int
	// Cursor continues an earlier search of the same query: the NextCursor
	// of its answer. Empty starts at the newest line.
	Cursor string
}

// SearchLogs runs one request of a search of the named program's log and
// its backups: the matches newest first, and a NextCursor to go on with
// unless every file was searched.
func (c *Client) SearchLogs(ctx context.Context, name string, s LogSearch) (*api.LogSearch, error) {
	q := url.Values{"q": {s.Text}}
	if s.Regex {
		q.Set("regex", "1")
	}
	if s.CaseSensitive {
		q.Set("case", "1")
	}
	if s.Limit > 0 {
		q.Set("limit", strconv.Itoa(s.Limit))
	}
	if s.Cursor != "" {
		q.Set("cursor", s.Cursor)
	}
	var res api.LogSearch
	if _, err := c.decode(ctx, http.MethodGet, programPath(name)+"/logs/search?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// maxEventLine bounds one line of the event stream. A batch of log lines is
// at most 256 KiB of log, which JSON escaping can grow a few times.
const maxEventLine = 16 << 20

// LogStream is an open stream of a program's new log lines.
type LogStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	path string
}

// OpenLogStream opens the stream of the named program's log. With lines > 0
// (at most api.MaxLogLines) it starts with the last lines lines, then goes on
// with every line written after them: none is missed or shown twice in
// between, as the manager follows the log from the very end of the lines it
// sent. With lines 0 it starts with the lines written from about now. The
// stream ends when ctx does; Close it when done.
func (c *Client) OpenLogStream(ctx context.Context, name string, lines int) (*LogStream, error) {
	path := programPath(name) + "/logs/stream"
	if lines > 0 {
		path += "?" + url.Values{"lines": {strconv.Itoa(lines)}}.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, "text/event-stream")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	return &LogStream{body: resp.Body, sc: sc, path: path}, nil
}

// Close ends the stream.
func (s *LogStream) Close() error { return s.body.Close() }

// Copy writes each line of the stream, with a '\n', to w until ctx ends (it
// then returns nil), the manager reports that following stopped, the stream
// breaks, or writing fails.
func (s *LogStream) Copy(ctx context.Context, w io.Writer) error {
	var event string
	var data bytes.Buffer
	for s.sc.Scan() {
		line := s.sc.Bytes()
		switch {
		case len(line) == 0: // the end of an event
			if err := dispatch(event, data.Bytes(), w); err != nil {
				return fmt.Errorf("GET %s: %w", s.path, err)
			}
			event = ""
			data.Reset()
		case line[0] == ':': // a comment: the manager's keep-alive ping
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
	if ctx.Err() != nil {
		return nil
	}
	if err := s.sc.Err(); err != nil {
		return fmt.Errorf("GET %s: stream broken: %w", s.path, err)
	}
	return fmt.Errorf("GET %s: the manager ended the stream (it may be shutting down)", s.path)
}

// dispatch acts on one event: the lines of "page" and "lines" are written to
// w, "error" ends the stream.
func dispatch(event string, data []byte, w io.Writer) error {
	switch event {
	case "page", "lines":
		var lines []string
		if event == "page" {
			var p api.LogPage
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("decode page event: %w", err)
			}
			lines = p.Lines
		} else if err := json.Unmarshal(data, &lines); err != nil {
			return fmt.Errorf("decode lines event: %w", err)
		}
		var buf bytes.Buffer
		for _, l := range lines {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		_, err := w.Write(buf.Bytes())
		return err
	case "error":
		var e api.Error
		if err := json.Unmarshal(data, &e); err != nil || e.Error == "" {
			return errors.New("the manager reported an error on the stream: " + string(data))
		}
		return errors.New(e.Error)
	}
	return nil // events of later versions, or a "retry:"-only block
}
