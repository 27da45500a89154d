package eventlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, path string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, program string, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(Event{Program: program, Kind: "exited", Detail: fmt.Sprintf("run %d", i)}); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func ids(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestReadBackAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := open(t, path, Options{})
	code, run := 1, 3.1
	first, err := l.Append(Event{Program: "worker", Kind: "exited", Detail: "exit status 1 after 3.1 s", ExitCode: &code, RunSeconds: &run, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, "other", 2)
	l.Close()

	l2 := open(t, path, Options{})
	page, next := l2.Page("", 0, 10)
	if got := ids(page); fmt.Sprint(got) != "[3 2 1]" || next != 0 {
		t.Fatalf("Page after reopen = %v, next %d; want [3 2 1], 0", got, next)
	}
	got := page[2]
	if got.Program != "worker" || *got.ExitCode != 1 || *got.RunSeconds != 3.1 || got.Actor != "alice" || !got.Time.Equal(first.Time) {
		t.Errorf("event read back = %+v, want %+v", got, first)
	}
	e, _ := l2.Append(Event{Kind: "config_error"})
	if e.ID != 4 {
		t.Errorf("ID after reopen = %d, want 4: IDs continue", e.ID)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", info.Mode().Perm())
	}
}

func TestPaging(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "events.jsonl"), Options{})
	for range 5 {
		appendN(t, l, "a", 1)
		appendN(t, l, "b", 1)
	}
	// IDs: a = 1 3 5 7 9, b = 2 4 6 8 10.
	for _, tc := range []struct {
		program       string
		before        uint64
		limit         int
		want          string
		wantNext      uint64
		wantNextLabel string
	}{
		{"", 0, 3, "[10 9 8]", 8, "more"},
		{"", 8, 3, "[7 6 5]", 5, "more"},
		{"", 4, 3, "[3 2 1]", 0, "none"},
		{"a", 0, 2, "[9 7]", 7, "more"},
		{"a", 7, 10, "[5 3 1]", 0, "none"},
		{"a", 3, 1, "[1]", 0, "none: 1 is the last of a"},
		{"b", 2, 5, "[]", 0, "empty"},
		{"nobody", 0, 5, "[]", 0, "unknown program"},
	} {
		page, next := l.Page(tc.program, tc.before, tc.limit)
		if got := fmt.Sprint(ids(page)); got != tc.want || next != tc.wantNext {
			t.Errorf("Page(%q, %d, %d) = %s, next %d; want %s, next %d (%s)",
				tc.program, tc.before, tc.limit, got, next, tc.want, tc.wantNext, tc.wantNextLabel)
		}
	}
}

func TestTornAndCorruptLinesSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := open(t, path, Options{})
	appendN(t, l, "w", 3)
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	// Line 2 corrupt, and a torn line 4 at the end, as a crash in the middle of a write leaves it.
	broken := lines[0] + "{not json\n" + lines[2] + lines[1][:len(lines[1])/2]
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	var warnings bytes.Buffer
	l2 := open(t, path, Options{Logger: slog.New(slog.NewTextHandler(&warnings, nil))})
	if got := fmt.Sprint(ids(first(l2.Page("", 0, 10)))); got != "[3 1]" {
		t.Errorf("events after a corrupt and a torn line = %s, want [3 1]", got)
	}
	for _, want := range []string{"torn last line", "unreadable lines"} {
		if !strings.Contains(warnings.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings.String())
		}
	}
	e, err := l2.Append(Event{Program: "w", Kind: "started"})
	if err != nil || e.ID != 4 {
		t.Fatalf("Append after a torn line = %d, %v; want ID 4", e.ID, err)
	}
	l2.Close()
	l3 := open(t, path, Options{})
	if got := fmt.Sprint(ids(first(l3.Page("", 0, 10)))); got != "[4 3 1]" {
		t.Errorf("after appending past the torn line and reopening: %s, want [4 3 1]: the new line must not be glued to the torn one", got)
	}
}

func first(page []Event, _ uint64) []Event { return page }

// TestBoundedOnDisk writes 25,000 events: the file keeps between Keep and
// MaxLines of the newest, and its size stays in proportion.
func TestBoundedOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := open(t, path, Options{})
	appendN(t, l, "worker", 25000)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(data, []byte("\n"))
	if n < DefaultKeep || n > DefaultMaxLines {
		t.Errorf("file holds %d lines after 25000 events, want %d to %d", n, DefaultKeep, DefaultMaxLines)
	}
	lineSize := len(data) / n
	if len(data) > DefaultMaxLines*lineSize+lineSize {
		t.Errorf("file is %d bytes for %d lines", len(data), n)
	}
	page, _ := l.Page("", 0, 1)
	if page[0].ID != 25000 {
		t.Errorf("newest ID %d, want 25000", page[0].ID)
	}
	l.Close()
	l2 := open(t, path, Options{})
	all, next := l2.Page("", 0, DefaultMaxLines+1)
	if len(all) != n || next != 0 || all[0].ID != 25000 || all[len(all)-1].ID != uint64(25000-n+1) {
		t.Errorf("read back %d events (%d..%d), next %d; want the newest %d, 25000 first",
			len(all), all[0].ID, all[len(all)-1].ID, next, n)
	}
}

func TestCompactsAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := open(t, path, Options{Keep: 100, MaxLines: 1000})
	appendN(t, l, "w", 500)
	l.Close()
	l2 := open(t, path, Options{Keep: 10, MaxLines: 20})
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 10 {
		t.Errorf("a file over MaxLines opened: %d lines, want Keep = 10", n)
	}
	e, _ := l2.Append(Event{Kind: "started"})
	if e.ID != 501 {
		t.Errorf("ID after compaction at open = %d, want 501", e.ID)
	}
}

func TestMemoryOnly(t *testing.T) {
	l := open(t, "", Options{Keep: 5, MaxLines: 8})
	appendN(t, l, "w", 20)
	page, _ := l.Page("", 0, 100)
	if len(page) < 5 || len(page) > 8 || page[0].ID != 20 {
		t.Errorf("memory-only log holds %v, want the newest 5 to 8", ids(page))
	}
	if !page[0].Time.Before(time.Now().Add(time.Second)) {
		t.Errorf("Append set no time: %v", page[0].Time)
	}
}
