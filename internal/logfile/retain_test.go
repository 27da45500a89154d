package logfile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestNextCheck(t *testing.T) {
	const idle = 10 * time.Second
	const mb = 1 << 20
	tests := []struct {
		name           string
		now, last, lim int64
		interval       time.Duration
		want           time.Duration
	}{
		{"idle log: the idle period", 5 * mb, 5 * mb, 10 * mb, idle, idle},
		{"shrunk (rotated by someone else): idle", 1 * mb, 5 * mb, 10 * mb, idle, idle},
		{"first check (no interval): idle", 5 * mb, 4 * mb, 10 * mb, 0, idle},
		{"slow writer far from the limit: idle", 1 * mb, 1*mb - 100, 10 * mb, idle, idle},
		{"flood: half the time to the limit", 2 * mb, 0, 10 * mb, 250 * time.Millisecond, 500 * time.Millisecond},
		{"steady writer far from the limit: at most growCheck", 2 * mb, 0, 10 * mb, time.Second, growCheck},
		{"faster flood: sooner", 2 * mb, 0, 10 * mb, 100 * time.Millisecond, 200 * time.Millisecond},
		{"near the limit: the shortest wait", 10*mb - 10, 9 * mb, 10 * mb, time.Second, minCheck},
		{"at the limit: the shortest wait", 10 * mb, 9 * mb, 10 * mb, time.Second, minCheck},
		{"past the limit: the shortest wait", 12 * mb, 9 * mb, 10 * mb, time.Second, minCheck},
		{"past the limit but idle (a failed rotation): idle", 12 * mb, 12 * mb, 10 * mb, time.Second, idle},
		{"never longer than idle", 1 * mb, 1*mb - 1000, 10 * mb, time.Second, idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextCheck(tt.now, tt.last, tt.lim, tt.interval, idle); got != tt.want {
				t.Errorf("nextCheck(%d, %d, %d, %v, %v) = %v, want %v", tt.now, tt.last, tt.lim, tt.interval, idle, got, tt.want)
			}
		})
	}
}

// TestRetainerFloodKeepsEveryLine runs a Retainer over a log that a python3
// child floods with numbered lines, one write(2) each, across many rotations,
// then checks that the backups, oldest first, and the live file hold every
// line from the oldest kept one to the last written, once and in order.
func TestRetainerFloodKeepsEveryLine(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	tests := []struct {
		name    string
		backups int
		all     bool // the backups have room for everything written
	}{
		{"room for all", 2000, true},
		{"oldest backups deleted", 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			floodKeepsEveryLine(t, t.TempDir(), tt.backups, tt.all)
		})
	}
}

// floodKeepsEveryLine floods a log in dir with numbered lines across about 40
// rotations into backups of 64 KiB, and checks that the backups, oldest first,
// and the live log hold every line once, in order, back to the oldest kept (to
// the first, when all is set: the backups have room for everything).
func floodKeepsEveryLine(t *testing.T, dir string, backups int, all bool) {
	const limit = 64 << 10
	path := filepath.Join(dir, "app.log")
	var mu sync.Mutex // Report runs on Run's goroutine; the test reads after it ends
	var rotations, made int
	var bad []string
	r := &Retainer{
		Rotator: Rotator{Backups: backups},
		Limit:   limit,
		Paths:   func(dst []string) []string { return append(dst, path) },
		Report: func(_ string, res Rotation, err error) {
			mu.Lock()
			defer mu.Unlock()
			rotations++
			made += res.Backups
			if err != nil || res.Method != CollapseRange || res.Dropped != 0 {
				bad = append(bad, fmt.Sprintf("%+v, %v", res, err))
			}
		},
	}
	written := runWriter(t, path, r, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return made >= 40
	})
	if len(bad) > 0 && strings.Contains(bad[0], "copy-truncate") {
		t.Skipf("the filesystem of %s cannot collapse a range: %s", path, bad[0])
	}
	for _, b := range bad {
		t.Errorf("rotation: %s; want a collapse-range with nothing dropped", b)
	}
	for i, n := range backupSizes(t, path, backups+1) {
		if n > limit {
			t.Errorf("backup .%d holds %d bytes, over the %d limit", i+1, n, limit)
		}
	}
	data := readRetained(t, path, backups+1)
	first, err := checkContiguous([]byte(data), written)
	t.Logf("%d lines written, %d rotations made %d backups; lines %d to %d kept", written, rotations, made, first, written-1)
	if err != nil {
		t.Fatal(err)
	}
	if all && first != 0 {
		t.Errorf("the oldest line kept is %d; want 0, the backups having room for all", first)
	}
}

// numberWriter is a python3 child appending numbered lines to a log file
// until its standard input closes.
type numberWriter struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

// startWriter starts a numberWriter on path, ended at cleanup if the test
// does not stop it.
func startWriter(t *testing.T, path string) *numberWriter {
	t.Helper()
	out, err := OpenAppend(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := &numberWriter{cmd: exec.CommandContext(t.Context(), "python3", "-c", writerScript)}
	w.cmd.Stdout, w.cmd.Stderr = out, &w.stderr
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start writer: %v", err)
	}
	t.Cleanup(func() { w.stdin.Close(); w.cmd.Wait() })
	return w
}

// stop ends the writer and returns how many lines it wrote.
func (w *numberWriter) stop(t *testing.T) int {
	t.Helper()
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("writer: %v (stderr %q)", err, w.stderr.String())
	}
	written, err := strconv.Atoi(w.stderr.String())
	if err != nil {
		t.Fatalf("writer's count %q: %v", w.stderr.String(), err)
	}
	return written
}

// runWriter runs a Retainer over path while a numberWriter appends to it,
// until done says so, and returns how many lines it wrote.
func runWriter(t *testing.T, path string, r *Retainer, done func() bool) int {
	t.Helper()
	w := startWriter(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ended := make(chan struct{})
	go func() { defer close(ended); r.Run(ctx) }()
	for deadline := time.Now().Add(60 * time.Second); !done(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not done after 60 s of writing")
		}
	}
	written := w.stop(t)
	cancel()
	<-ended
	return written
}

// checkContiguous checks that data holds the lines "%08d\n" first … written-1,
// each once and in order, after at most one partial line (the oldest backup
// may start inside a line), and returns first.
func checkContiguous(data []byte, written int) (first int, err error) {
	want := -1
	for i, line := range slices.Collect(bytes.Lines(data)) {
		n, err := strconv.Atoi(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil || len(line) != 9 {
			if i == 0 {
				continue // the tail of a line whose head was deleted
			}
			return 0, fmt.Errorf("line %d after line %d is %q; want %08d", i, want-1, line, want)
		}
		if want < 0 {
			first, want = n, n
		}
		if n != want {
			return 0, fmt.Errorf("line %d is %d; want %d (missing, duplicated or out of order)", i, n, want)
		}
		want++
	}
	if want != written {
		return 0, fmt.Errorf("the last line kept is %d; want the last written, %d", want-1, written-1)
	}
	return first, nil
}

// runWakingRetainer runs, until the test ends, a Retainer of the logs paths
// returns with a limit of 1000 bytes and an idle period of an hour, so that
// only a wake-up on a write or a creation can make it rotate in a test's time.
// Each rotation's path is sent on rotated.
func runWakingRetainer(t *testing.T, paths func([]string) []string) (r *Retainer, rotated <-chan string) {
	ch := make(chan string, 10)
	r = &Retainer{
		Rotator: Rotator{Backups: 2},
		Limit:   1000,
		Idle:    time.Hour,
		Paths:   paths,
		Report: func(path string, res Rotation, err error) {
			if err != nil {
				t.Errorf("rotate %s: %+v, %v", path, res, err)
			}
			ch <- path
		},
	}
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan struct{})
	go func() { defer close(ended); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ended })
	return r, ch
}

// TestRetainerWakesOnWrite checks that a log idle at its first check is
// rotated soon after it passes the limit, long before the idle period ends:
// the write itself wakes the loop. It also checks that a path Paths stops
// returning is no longer rotated.
func TestRetainerWakesOnWrite(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux wakes on writes; elsewhere an idle log waits for its next check")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	testkit.WriteFile(t, a, "first\n")
	testkit.WriteFile(t, b, "first\n")
	var mu sync.Mutex
	paths := []string{a, b}
	r, rotated := runWakingRetainer(t, func(dst []string) []string {
		mu.Lock()
		defer mu.Unlock()
		return append(dst, paths...)
	})

	time.Sleep(100 * time.Millisecond) // past the first check, which finds both idle
	appendFile(t, a, strings.Repeat("0123456789\n", 200))
	select {
	case got := <-rotated:
		if got != a {
			t.Fatalf("rotated %s; want %s", got, a)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s, over its limit, not rotated a minute after the write (idle period %v)", a, r.Idle)
	}
	// b is forgotten before it grows: its write must wake nothing.
	mu.Lock()
	paths = paths[:1]
	mu.Unlock()
	appendFile(t, a, "one more line to wake the loop, which then reads Paths\n")
	time.Sleep(eventGap + 100*time.Millisecond)
	appendFile(t, b, strings.Repeat("0123456789\n", 200))
	select {
	case got := <-rotated:
		t.Errorf("rotated %s after it left Paths", got)
	case <-time.After(2 * eventGap):
	}
}

// TestRetainerWakesOnCreation checks that a log missing at its first check
// (its program not started yet) is rotated soon after it is created and
// written past its limit, long before the idle period ends: the creation
// wakes the loop, and the new file is checked again for a rate.
func TestRetainerWakesOnCreation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux wakes on creation; elsewhere a missing log waits for its next check")
	}
	tests := []struct {
		name  string
		rel   string // the log's path in the test's directory
		write func(t *testing.T, path string)
	}{
		{"created, then written", "late.log", func(t *testing.T, path string) {
			appendFile(t, path, "")
			time.Sleep(50 * time.Millisecond)
			appendFile(t, path, strings.Repeat("0123456789\n", 200))
		}},
		{"created and written at once", "late.log", func(t *testing.T, path string) {
			appendFile(t, path, strings.Repeat("0123456789\n", 200))
		}},
		{"moved into place", "late.log", func(t *testing.T, path string) {
			testkit.WriteFile(t, path+".new", strings.Repeat("0123456789\n", 200))
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"in directories created later", "log/today/late.log", func(t *testing.T, path string) {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "")
			time.Sleep(50 * time.Millisecond)
			appendFile(t, path, strings.Repeat("0123456789\n", 200))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.rel)
			r, rotated := runWakingRetainer(t, func(dst []string) []string { return append(dst, path) })

			time.Sleep(100 * time.Millisecond) // past the first check, which finds no file
			tt.write(t, path)
			select {
			case <-rotated:
			case <-time.After(time.Minute):
				t.Fatalf("%s, created past its limit, not rotated a minute later (idle period %v)", path, r.Idle)
			}
			// No log missing any more: the directory watches go, and the
			// idle log's write watch is all that is left.
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			want := []uint64{fi.Sys().(*syscall.Stat_t).Ino}
			for deadline := time.Now().Add(time.Minute); !slices.Equal(inotifyWatches(t), want); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("inotify watches of inodes %v a minute after %s appeared; want only its own, %v", inotifyWatches(t), path, want)
				}
			}
		})
	}
}

// inotifyWatches returns the inode numbers that this process's inotify
// instances watch.
func inotifyWatches(t *testing.T) []uint64 {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var inodes []uint64
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target != "anon_inode:inotify" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		for line := range strings.Lines(string(info)) {
			if !strings.HasPrefix(line, "inotify wd:") {
				continue
			}
			for field := range strings.FieldsSeq(line) {
				if hex, ok := strings.CutPrefix(field, "ino:"); ok {
					ino, err := strconv.ParseUint(hex, 16, 64)
					if err != nil {
						t.Fatalf("fdinfo line %q: %v", line, err)
					}
					inodes = append(inodes, ino)
				}
			}
		}
	}
	return inodes
}
