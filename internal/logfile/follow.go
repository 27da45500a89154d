package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// followOptions are the knobs of follow; Follow uses defaultFollowOptions and
// tests shorten them or force the polling fallback.
type followOptions struct {
	flushAfter time.Duration // hand out a partial last line after this long
	pollEvery  time.Duration // polling interval when inotify is unavailable
	forcePoll  bool
	ready      func() // called once the starting offset is fixed
	from       int64  // the byte offset following starts at, or fromEnd
	// watcher, unless nil, is the change notification shared with other
	// follows; without it each follow has its own.
	watcher *Watcher
}

// fromEnd starts following at the end of the file, wherever it is then.
const fromEnd = -1

func defaultFollowOptions() followOptions {
	return followOptions{flushAfter: time.Second, pollEvery: 250 * time.Millisecond, from: fromEnd}
}

// followChunkBytes bounds one read, and so one batch handed to fn.
const followChunkBytes = 256 << 10

// Follow calls fn with batches of the complete lines appended to path after
// the moment Follow was called, in file order, until ctx ends or fn returns
// an error; it returns ctx.Err() or fn's error. A path that does not exist
// yet is waited for. A last line without '\n' is held until the '\n' comes,
// or handed out on its own after about a second (a prompt still shows).
//
// Rotation is noticed when the file shrinks, when the bytes before the read
// position change (it shrank and grew back between two looks) or when the
// path names another file; following then continues from the start of the
// file, so a few lines may be delivered twice. If the child's first write
// after Follow starts continues an unfinished line, that rest comes as a line
// of its own.
//
// started, unless nil, is called once the starting offset is fixed: every
// line appended after that is delivered. A caller that shows the existing
// lines too reads them after started, so that none falls in a gap between
// the two (a line written in between may then show twice, never not at all;
// FollowFrom the end of a page shows it once).
//
// On Linux, changes are waited for with inotify; elsewhere, or if inotify
// cannot be used, the file is polled every 250 ms.
func Follow(ctx context.Context, path string, started func(), fn func(lines []string) error) error {
	o := defaultFollowOptions()
	o.ready = started
	return follow(ctx, path, fn, o)
}

// FollowFrom is Follow from byte offset of path instead of its end: it
// delivers the lines after the first offset bytes, at once those already
// there. Following from the SizeBytes of a Page meets that page exactly, with
// no line missing or repeated in between (if the page ended in a line without
// its '\n', the rest of that line comes as a line of its own). A file
// shorter than offset was rotated meanwhile: following starts at its
// beginning.
func FollowFrom(ctx context.Context, path string, offset int64, started func(), fn func(lines []string) error) error {
	if offset < 0 {
		return fmt.Errorf("follow %q from byte %d: the offset must not be negative", path, offset)
	}
	o := defaultFollowOptions()
	o.ready = started
	o.from = offset
	return follow(ctx, path, fn, o)
}

func follow(ctx context.Context, path string, fn func([]string) error, o followOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	wake := make(chan struct{}, 1)
	// The watch is in place before the offset is taken, so no write after
	// the offset can go unnoticed.
	watchDone := watch(ctx, path, o, wake)
	defer func() { cancel(); <-watchDone }()

	// fn's error is returned as it is, not wrapped like ours.
	var fnErr error
	deliver := func(lines []string) error {
		fnErr = fn(lines)
		return fnErr
	}
	fl := &follower{path: path, buf: make([]byte, followChunkBytes)}
	defer fl.close()
	if err := fl.openAt(o.from); err != nil {
		return fmt.Errorf("follow %q: %w", path, err)
	}
	if o.ready != nil {
		o.ready()
	}

	flush := time.NewTimer(o.flushAfter)
	flush.Stop()
	defer flush.Stop()
	for {
		hadPending := fl.split.pending()
		if err := fl.catchUp(deliver); err != nil {
			if fnErr != nil {
				return fnErr
			}
			return fmt.Errorf("follow %q: %w", path, err)
		}
		// The deadline runs from the first byte of the partial line, so a
		// slow trickle without '\n' (a progress bar) still shows.
		switch {
		case !fl.split.pending():
			flush.Stop()
		case !hadPending:
			flush.Reset(o.flushAfter)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-flush.C:
			if line, ok := fl.split.flush(); ok {
				if err := fn([]string{line}); err != nil {
					return err
				}
			}
		}
	}
}

// follower is the reading side of Follow; only Follow's goroutine uses it.
type follower struct {
	path  string
	f     *os.File // nil while the path does not exist
	fi    os.FileInfo
	off   int64  // next byte to read
	tail  []byte // the last bytes read before off, to notice a rotation
	buf   []byte
	split lineSplitter
}

// openAt opens path (if it exists) positioned at from, or at its current end
// for fromEnd; at its start if it is shorter than from.
func (fl *follower) openAt(from int64) error {
	if err := fl.open(); err != nil || fl.f == nil {
		return err
	}
	switch size := fl.fi.Size(); {
	case from == fromEnd:
		fl.off = size
	case from > size:
		fl.off = 0 // rotated since from was taken: all of it is new
	default:
		fl.off = from
	}
	n := min(int64(fingerprintBytes), fl.off)
	fl.tail = make([]byte, n)
	if _, err := fl.f.ReadAt(fl.tail, fl.off-n); err != nil {
		return fmt.Errorf("read %s before byte %d: %w", fl.path, fl.off, err)
	}
	return nil
}

// open opens path from its start, or leaves f nil if it does not exist.
func (fl *follower) open() error {
	f, err := os.Open(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	fl.f, fl.fi, fl.off, fl.tail = f, fi, 0, nil
	return nil
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

// catchUp hands fn every complete line written since the last call, switching
// to a new file at path once the old one is read to its end.
func (fl *follower) catchUp(fn func([]string) error) error {
	if fl.f != nil {
		if err := fl.readNew(fn); err != nil {
			return err
		}
	}
	fi, err := os.Stat(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		// Deleted: the child may still write to the open file, and the
		// directory watch wakes us when the path comes back.
		return nil
	}
	if err != nil {
		return err
	}
	if fl.f != nil && os.SameFile(fi, fl.fi) {
		return nil
	}
	// A new file at path: everything in it is new to us.
	if err := fl.deliverPartial(fn); err != nil {
		return err
	}
	fl.close()
	if err := fl.open(); err != nil || fl.f == nil {
		return err
	}
	return fl.readNew(fn)
}

// readNew reads f from off to its current end.
func (fl *follower) readNew(fn func([]string) error) error {
	fi, err := fl.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size < fl.off || !fl.tailMatches() {
		// Rotated: the start of the file is new, or at worst already seen.
		if err := fl.deliverPartial(fn); err != nil {
			return err
		}
		fl.off, fl.tail = 0, nil
	}
	for fl.off < size {
		n, err := fl.f.ReadAt(fl.buf[:min(int64(len(fl.buf)), size-fl.off)], fl.off)
		if n > 0 {
			data := fl.buf[:n]
			fl.off += int64(n)
			t := append(fl.tail, data[max(0, n-fingerprintBytes):]...)
			fl.tail = append([]byte(nil), t[max(0, len(t)-fingerprintBytes):]...)
			if lines := fl.split.feed(data); len(lines) > 0 {
				if err := fn(lines); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil // shrank meanwhile; the next wake-up sees it
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (fl *follower) tailMatches() bool {
	if len(fl.tail) == 0 {
		return true
	}
	got := make([]byte, len(fl.tail))
	_, err := fl.f.ReadAt(got, fl.off-int64(len(got)))
	return err == nil && bytes.Equal(got, fl.tail)
}

// deliverPartial hands out a held partial line before reading moves to other
// bytes; its rest may follow as a line of its own.
func (fl *follower) deliverPartial(fn func([]string) error) error {
	if line, ok := fl.split.flush(); ok {
		return fn([]string{line})
	}
	return nil
}

// lineSplitter cuts a byte stream into lines, holding the unfinished last
// one; at most maxLineBytes of a line are kept.
type lineSplitter struct {
	partial   []byte
	truncated bool
}

// feed returns the lines completed by data.
func (s *lineSplitter) feed(data []byte) []string {
	var out []string
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.keep(data)
			return out
		}
		s.keep(data[:i])
		out = append(out, trimLine(s.partial, true, s.truncated))
		s.partial, s.truncated = s.partial[:0], false
		data = data[i+1:]
	}
}

func (s *lineSplitter) keep(b []byte) {
	if room := maxLineBytes - len(s.partial); len(b) > room {
		b, s.truncated = b[:room], true
	}
	s.partial = append(s.partial, b...)
}

func (s *lineSplitter) pending() bool { return len(s.partial) > 0 }

// flush returns the held partial line, if any, and forgets it.
func (s *lineSplitter) flush() (string, bool) {
	if !s.pending() {
		return "", false
	}
	line := trimLine(s.partial, false, s.truncated)
	s.partial, s.truncated = s.partial[:0], false
	return line, true
}

// watch sends on wake whenever path may have changed, until ctx ends; the
// returned channel is closed once it has stopped. It returns after the
// watch is in place.
func watch(ctx context.Context, path string, o followOptions, wake chan<- struct{}) <-chan struct{} {
	done := make(chan struct{})
	ready := make(chan struct{})
	started := sync.OnceFunc(func() { close(ready) })
	go func() {
		defer close(done)
		defer started()
		if !o.forcePoll {
			loop := notifyLoop
			if o.watcher != nil {
				loop = o.watcher.notifyLoop
			}
			err := loop(ctx, path, wake, started)
			if err == nil || ctx.Err() != nil {
				return
			}
		}
		pollLoop(ctx, o.pollEvery, wake, started)
	}()
	<-ready
	return done
}

// pollLoop is the fallback where no change notification is available (not
// Linux, inotify limits reached, a filesystem that does not report): without
// an event to wait on, looking at the file every interval is all there is.
func pollLoop(ctx context.Context, every time.Duration, wake chan<- struct{}, started func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	started()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			notify(wake)
		}
	}
}

// notify wakes the follower without blocking; one pending wake-up is enough
// since the follower reads everything new when it wakes.
func notify(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
