// Package eventlog owns the history file process_manager.events.jsonl: what
// happened to the programs, one JSON object a line, each with an ID one
// greater than the one before. It appends an event with one write, reads the
// file back at start (skipping a line torn by a crash, or corrupt, with a
// warning), keeps the newest events in memory for paging, and bounds the
// file by rewriting it atomically with the newest Keep events once it holds
// more than MaxLines.
//
// No event is fsynced: the write is in the kernel's hands once Append
// returns, so a crash or kill -9 of the manager loses nothing written, and
// the worst a power loss does is cut the last lines, which the next start
// skips.
package eventlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/pyvisor/pyvisor/internal/atomicfile"
)

// Bounds of the file, when Options leave them zero.
const (
	DefaultKeep     = 10000
	DefaultMaxLines = 12000
)

// fileMode keeps the history to the manager's user: it names who did what.
const fileMode = 0o600

// Event is one line of the file.
type Event struct {
	// ID grows by one with each event, across restarts of the manager.
	ID uint64 `json:"id"`
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Program is the program it happened to; "" for the manager's own events.
	Program string `json:"program,omitempty"`
	// Kind names what happened ("exited").
	Kind string `json:"event"`
	// Detail says it in words ("exit status 1 after 3.1 s").
	Detail string `json:"detail,omitempty"`
	// ExitCode is the exit code of a process that ended by itself; nil otherwise.
	ExitCode *int `json:"exit_code,omitempty"`
	// Signal names the signal that ended a process ("SIGKILL"); "" otherwise.
	Signal string `json:"signal,omitempty"`
	// RunSeconds is how long an ended process ran; nil when it does not apply.
	RunSeconds *float64 `json:"run_seconds,omitempty"`
	// Actor is who asked for it (a user, "token:NAME"); "" for what the manager did itself.
	Actor string `json:"actor,omitempty"`
}

// Options bound the file. Zero fields take the defaults.
type Options struct {
	// Keep is how many events remain after the file is compacted.
	Keep int
	// MaxLines is how many lines the file may hold before it is compacted;
	// at least Keep+1.
	MaxLines int
	// Logger receives the warnings about skipped lines; nil means slog.Default().
	Logger *slog.Logger
}

// Log is the history: the file and the newest events in memory. It is safe
// for concurrent use; appends are serialized, so IDs and lines agree in order.
type Log struct {
	path     string
	keep     int
	maxLines int
	log      *slog.Logger

	mu sync.Mutex
	f  *os.File // nil for a log in memory only, and once closed
	// events are those in the file, oldest first.
	events []Event
	// lines is how many lines the file holds (events plus skipped ones).
	lines int
	// compactAt is the line count that triggers the next compaction.
	compactAt int
	nextID    uint64
}

// Open reads the history at path and opens it for appending, creating it if
// needed. Lines that cannot be read are skipped with a warning; a torn last
// line is cut off so the next event starts a line of its own. Only a file
// that cannot be read or opened at all is an error. With path "" the log is
// kept in memory only.
func Open(path string, opts Options) (*Log, error) {
	l := &Log{path: path, keep: opts.Keep, maxLines: opts.MaxLines, log: opts.Logger, nextID: 1}
	if l.keep <= 0 {
		l.keep = DefaultKeep
	}
	if l.maxLines <= 0 {
		l.maxLines = DefaultMaxLines
	}
	l.maxLines = max(l.maxLines, l.keep+1)
	if l.log == nil {
		l.log = slog.Default()
	}
	l.compactAt = l.maxLines
	if path == "" {
		return l, nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read event history %s: %w", path, err)
	}
	whole := l.parse(data)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open event history %s: %w", path, err)
	}
	if whole < len(data) {
		// A line torn by a crash: without cutting it, the next event would
		// be glued to it and lost too.
		if err := f.Truncate(int64(whole)); err != nil {
			f.Close()
			return nil, fmt.Errorf("cut the torn last line of %s: %w", path, err)
		}
	}
	if err := f.Chmod(fileMode); err != nil {
		l.log.Warn("restrict the event history to its owner", "path", path, "err", err)
	}
	l.f = f
	if l.lines > l.maxLines {
		l.compact()
	}
	return l, nil
}

// parse loads the events of data and returns the length of its whole lines.
func (l *Log) parse(data []byte) (whole int) {
	var corrupt, firstBad int
	whole = bytes.LastIndexByte(data, '\n') + 1
	if whole < len(data) {
		l.log.Warn("event history: skipping a torn last line", "path", l.path, "bytes", len(data)-whole)
	}
	lineNo := 0
	for line := range bytes.Lines(data[:whole]) {
		lineNo++
		l.lines++
		var e Event
		if err := json.Unmarshal(line, &e); err != nil || e.ID < l.nextID || e.Kind == "" {
			// An ID that does not grow is as corrupt as bad JSON: pages rely on the order.
			if corrupt == 0 {
				firstBad = lineNo
			}
			corrupt++
			continue
		}
		l.events = append(l.events, e)
		l.nextID = e.ID + 1
	}
	if corrupt > 0 {
		l.log.Warn("event history: skipping unreadable lines", "path", l.path, "lines", corrupt, "first", firstBad)
	}
	return whole
}

// Append gives e the next ID (and the time now, if it has none), writes it as
// one line and returns it. The event is kept in memory even when writing it
// fails, which the error reports.
func (l *Log) Append(e Event) (Event, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.ID = l.nextID
	l.nextID++
	l.events = append(l.events, e)
	if l.f == nil {
		if len(l.events) > l.maxLines {
			l.events = slices.Clone(l.events[len(l.events)-l.keep:])
		}
		return e, nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("encode event %d: %w", e.ID, err)
	}
	// One write of a whole line: a crash leaves the line whole or missing,
	// or at worst torn, which Open skips.
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return e, fmt.Errorf("append to event history %s: %w", l.path, err)
	}
	l.lines++
	if l.lines > l.compactAt {
		if err := l.compact(); err != nil {
			return e, err
		}
	}
	return e, nil
}

// compact rewrites the file with the newest Keep events. l.mu is held (or l
// is not yet shared). On failure the file keeps growing until the next try,
// MaxLines-Keep lines later.
func (l *Log) compact() error {
	if n := len(l.events); n > l.keep {
		l.events = slices.Clone(l.events[n-l.keep:])
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range l.events {
		if err := enc.Encode(&l.events[i]); err != nil {
			return fmt.Errorf("compact event history: encode event %d: %w", l.events[i].ID, err)
		}
	}
	if err := atomicfile.WriteFile(l.path, buf.Bytes(), fileMode); err != nil {
		l.compactAt = l.lines + l.maxLines - l.keep
		return fmt.Errorf("compact event history: %w", err)
	}
	// The old descriptor points at the replaced file.
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		l.compactAt = l.lines + l.maxLines - l.keep
		return fmt.Errorf("compact event history: reopen: %w", err)
	}
	l.f.Close()
	l.f = f
	l.lines = len(l.events)
	l.compactAt = l.maxLines
	return nil
}

// Page returns up to limit events of program ("" for all) with IDs below
// before (0 for the newest), newest first, and the ID to pass as before for
// the next page: 0 when no older event of program remains.
func (l *Log) Page(program string, before uint64, limit int) (page []Event, next uint64) {
	limit = max(limit, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	page = []Event{}
	for i := len(l.events) - 1; i >= 0; i-- {
		e := &l.events[i]
		if (before != 0 && e.ID >= before) || (program != "" && e.Program != program) {
			continue
		}
		if len(page) == limit {
			return page, page[len(page)-1].ID
		}
		page = append(page, *e)
	}
	return page, 0
}

// Close closes the file; later events are kept in memory only.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close event history %s: %w", l.path, err)
	}
	return nil
}
