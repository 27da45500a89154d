package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("z", maxLineBytes+5)
	tests := []struct {
		name      string
		feeds     []string
		want      []string // lines returned by all the feeds, in order
		wantFlush string   // what flush returns afterwards; "" for nothing
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}, ""},
		{"partial held", []string{"a\nhalf"}, []string{"a"}, "half"},
		{"partial completed", []string{"ha", "lf", "\n"}, []string{"half"}, ""},
		{"CRLF split across feeds", []string{"x\r", "\ny\r\n"}, []string{"x", "y"}, ""},
		{"empty lines", []string{"\n\n"}, []string{"", ""}, ""},
		{"long line cut", []string{long[:40000], long[40000:] + "\nok\n"}, []string{long[:maxLineBytes] + truncatedMarker, "ok"}, ""},
		{"long partial flushed cut", []string{long}, nil, long[:maxLineBytes] + truncatedMarker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s lineSplitter
			var got []string
			for _, f := range tt.feeds {
				got = append(got, s.feed([]byte(f))...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("feed(%q) lines = %q; want %q", shortAll(tt.feeds), shortAll(got), shortAll(tt.want))
			}
			flushed, ok := s.flush()
			if flushed != tt.wantFlush || ok != (tt.wantFlush != "") {
				t.Errorf("flush() after feed(%q) = %q, %v; want %q", shortAll(tt.feeds), shorten(flushed), ok, shorten(tt.wantFlush))
			}
			if again, ok := s.flush(); ok {
				t.Errorf("second flush() = %q; want nothing", shorten(again))
			}
		})
	}
}

// followed runs follow on path in the background and collects its lines.
type followed struct {
	lines chan string
	done  chan error
}

func startFollow(t *testing.T, path string, o followOptions) (*followed, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	fw := &followed{lines: make(chan string, 100000), done: make(chan error, 1)}
	ready := make(chan struct{})
	o.ready = func() { close(ready) }
	go func() {
		fw.done <- follow(ctx, path, func(lines []string) error {
			for _, l := range lines {
				fw.lines <- l
			}
			return nil
		}, o)
	}()
	select {
	case <-ready:
	case err := <-fw.done:
		t.Fatalf("follow(%s) returned before starting: %v", path, err)
	}
	t.Cleanup(func() { cancel(); <-fw.done })
	return fw, cancel
}

// next waits for n lines; the timeout only guards against a hang.
func (fw *followed) next(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case l := <-fw.lines:
			got = append(got, l)
		case <-timeout:
			t.Fatalf("follow delivered %d of %d lines (%q); want all", len(got), n, got)
		}
	}
	return got
}

// quiet checks that nothing more is delivered for a while.
func (fw *followed) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case l := <-fw.lines:
		t.Errorf("follow delivered %q; want nothing yet", l)
	case <-time.After(d):
	}
}

// followModes runs a test with inotify, with a Watcher's shared one and with
// the polling fallback.
func followModes(t *testing.T, test func(t *testing.T, o followOptions)) {
	for _, mode := range []struct {
		name   string
		poll   bool
		shared bool
	}{{"notify", false, false}, {"shared", false, true}, {"poll", true, false}} {
		t.Run(mode.name, func(t *testing.T) {
			o := defaultFollowOptions()
			o.forcePoll, o.pollEvery = mode.poll, 20*time.Millisecond
			if mode.shared {
				o.watcher = NewWatcher()
			}
			test(t, o)
		})
	}
}

func TestFollowNewLinesInOrder(t *testing.T) {
	followModes(t, func(t *testing.T, o followOptions) {
		path := filepath.Join(t.TempDir(), "app.log")
		testkit.WriteFile(t, path, "old 1\nold 2\n")
		fw, _ := startFollow(t, path, o)
		want := strings.Split(strings.TrimSuffix(numbered("new", 1, 500), "\n"), "\n")
		for _, l := range want {
			appendFile(t, path, l+"\n")
		}
		if got := fw.next(t, len(want)); !reflect.DeepEqual(got, want) {
			t.Errorf("follow after appending %d lines got %q; want %q", len(want), shortAll(got), shortAll(want))
		}
		fw.quiet(t, 50*time.Millisecond)
	})
}

func TestFollowPartialLine(t *testing.T) {
	followModes(t, func(t *testing.T, o followOptions) {
		path := filepath.Join(t.TempDir(), "app.log")
		testkit.WriteFile(t, path, "")
		o.flushAfter = time.Hour
		fw, _ := startFollow(t, path, o)
		appendFile(t, path, "hal")
		fw.quiet(t, 150*time.Millisecond)
		appendFile(t, path, "f a line\nnext\n")
		if got, want := fw.next(t, 2), []string{"half a line", "next"}; !reflect.DeepEqual(got, want) {
			t.Errorf("follow after writing %q then %q = %q; want %q", "hal", "f a line\nnext\n", got, want)
		}
	})
}

func TestFollowFlushesPrompt(t *testing.T) {
	followModes(t, func(t *testing.T, o followOptions) {
		path := filepath.Join(t.TempDir(), "app.log")
		testkit.WriteFile(t, path, "")
		o.flushAfter = 100 * time.Millisecond
		fw, _ := startFollow(t, path, o)
		appendFile(t, path, "Password: ")
		if got := fw.next(t, 1); got[0] != "Password: " {
			t.Errorf("follow of a line without newline = %q; want %q after the flush delay", got[0], "Password: ")
		}
		appendFile(t, path, "\n")
		if got := fw.next(t, 1); got[0] != "" {
			t.Errorf("follow of the newline after a flushed prompt = %q; want an empty line", got[0])
		}
	})
}

func TestFollowSurvivesRotation(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("forceCopyTruncate=%v", force), func(t *testing.T) {
			followModes(t, func(t *testing.T, o followOptions) {
				path := filepath.Join(t.TempDir(), "app.log")
				testkit.WriteFile(t, path, "")
				fw, _ := startFollow(t, path, o)
				before := numbered("line", 1, 2000) // several blocks, for collapse
				appendFile(t, path, before)
				got := fw.next(t, 2000)
				m, err := Rotator{ForceCopyTruncate: force}.Rotate(path)
				if err != nil {
					t.Fatal(err)
				}
				// Enough to grow past the old size before the follower looks.
				after := numbered("line", 2001, 6000)
				appendFile(t, path, after)
				for !slices.Contains(got, "line 6000") {
					got = append(got, fw.next(t, 1)...)
				}
				// After a collapse the follower restarts at the cut, which may
				// fall inside a line, so one fragment and repeats may appear.
				seen := map[string]bool{}
				fragments := 0
				for _, l := range got {
					seen[l] = true
					if !strings.HasPrefix(l, "line ") {
						fragments++
					}
				}
				for i := 1; i <= 6000; i++ {
					if l := fmt.Sprintf("line %d", i); !seen[l] {
						t.Fatalf("follow across a %v rotation missed %q (got %d lines)", m, l, len(got))
					}
				}
				if fragments > 1 {
					t.Errorf("follow across a %v rotation delivered %d fragments; want at most 1", m, fragments)
				}
			})
		})
	}
}

func TestFollowFileAppearsLater(t *testing.T) {
	followModes(t, func(t *testing.T, o followOptions) {
		path := filepath.Join(t.TempDir(), "app.log")
		fw, _ := startFollow(t, path, o)
		appendFile(t, path, "first\nsecond\n")
		if got, want := fw.next(t, 2), []string{"first", "second"}; !reflect.DeepEqual(got, want) {
			t.Errorf("follow of a file created after it started = %q; want %q", got, want)
		}
		// Replaced by another file at the same path.
		other := path + ".new"
		testkit.WriteFile(t, other, "replaced\n")
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		if got := fw.next(t, 1); got[0] != "replaced" {
			t.Errorf("follow after the file was replaced = %q; want %q", got[0], "replaced")
		}
	})
}

func TestFollowStops(t *testing.T) {
	followModes(t, func(t *testing.T, o followOptions) {
		path := filepath.Join(t.TempDir(), "app.log")
		testkit.WriteFile(t, path, "")
		t.Run("context canceled", func(t *testing.T) {
			fw, cancel := startFollow(t, path, o)
			cancel()
			select {
			case err := <-fw.done:
				fw.done <- err // for the cleanup
				if !errors.Is(err, context.Canceled) {
					t.Errorf("follow after cancel returned %v; want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("follow did not return after its context was canceled")
			}
		})
		t.Run("callback error", func(t *testing.T) {
			stop := errors.New("client went away")
			done := make(chan error, 1)
			o := o
			ready := make(chan struct{})
			o.ready = func() { close(ready) }
			go func() {
				done <- follow(t.Context(), path, func([]string) error { return stop }, o)
			}()
			<-ready
			appendFile(t, path, "x\n")
			select {
			case err := <-done:
				if err != stop { // as it is, not wrapped
					t.Errorf("follow with a failing callback returned %v; want %v itself", err, stop)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("follow did not return after its callback failed")
			}
		})
	})
}

func TestFollowFrom(t *testing.T) {
	tests := []struct {
		name     string
		content  string // the file when following starts
		from     int64
		appended string // after following started
		want     []string
	}{
		{"from a line's end, lines there already", "line 1\nline 2\nline 3\n", 7, "line 4\n", []string{"line 2", "line 3", "line 4"}},
		{"from the start", "a\nb\n", 0, "c\n", []string{"a", "b", "c"}},
		{"from the end", "a\nb\n", 4, "c\n", []string{"c"}},
		{"past the end: rotated", "a\n", 10, "b\n", []string{"a", "b"}},
		{"inside a line: its rest is a line", "one\ntw", 6, "o\nthree\n", []string{"o", "three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			followModes(t, func(t *testing.T, o followOptions) {
				path := filepath.Join(t.TempDir(), "app.log")
				testkit.WriteFile(t, path, tt.content)
				o.from = tt.from
				fw, _ := startFollow(t, path, o)
				appendFile(t, path, tt.appended)
				if got := fw.next(t, len(tt.want)); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("follow of %q from byte %d, then %q appended = %q; want %q", tt.content, tt.from, tt.appended, got, tt.want)
				}
				fw.quiet(t, 50*time.Millisecond)
			})
		})
	}
}

// TestFollowFromPage follows a log from the end of its page 1 as the web
// stream does, with lines written between the two: each shows once.
func TestFollowFromPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	testkit.WriteFile(t, path, numbered("line", 1, 10))
	p, err := NewReader().Page(path, 1, 3)
	if err != nil {
		t.Fatalf("Page(%s, 1, 3): %v", path, err)
	}
	if last := p.Lines[len(p.Lines)-1]; last != "line 10" {
		t.Fatalf("Page(%s, 1, 3) ends with %q; want line 10", path, last)
	}
	appendFile(t, path, "line 11\n")
	got := make(chan string, 100)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		done <- FollowFrom(ctx, path, p.SizeBytes, nil, func(lines []string) error {
			for _, l := range lines {
				got <- l
			}
			return nil
		})
	}()
	fw := &followed{lines: got, done: done}
	t.Cleanup(func() { cancel(); <-done })
	if l := fw.next(t, 1); l[0] != "line 11" {
		t.Errorf("FollowFrom(the page's SizeBytes %d) first delivered %q; want line 11, written after the page", p.SizeBytes, l[0])
	}
	appendFile(t, path, "line 12\n")
	if l := fw.next(t, 1); l[0] != "line 12" {
		t.Errorf("FollowFrom(the page's SizeBytes %d) then delivered %q; want line 12", p.SizeBytes, l[0])
	}
}

func TestFollowFromNegative(t *testing.T) {
	err := FollowFrom(t.Context(), filepath.Join(t.TempDir(), "app.log"), -1, nil, func([]string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("FollowFrom(offset -1) = %v; want an error saying the offset must not be negative", err)
	}
}

func TestFollowPublic(t *testing.T) {
	// Follow itself, with its real defaults; its start is not observable, so
	// keep writing until the lines show up.
	path := filepath.Join(t.TempDir(), "app.log")
	testkit.WriteFile(t, path, "")
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, 1000)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, nil, func(lines []string) error {
			for _, l := range lines {
				got <- l
			}
			return nil
		})
	}()
	timeout := time.After(20 * time.Second)
	for i := 0; ; i++ {
		appendFile(t, path, fmt.Sprintf("ping %d\n", i))
		select {
		case l := <-got:
			if !strings.HasPrefix(l, "ping ") {
				t.Errorf("Follow delivered %q; want a ping line", l)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Follow after cancel = %v; want context.Canceled", err)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-timeout:
			t.Fatal("Follow delivered nothing in 20s")
		}
	}
}

func shortAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shorten(s)
	}
	return out
}
