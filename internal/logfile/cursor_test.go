package logfile

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestSearchBadInput(t *testing.T) {
	path := writeLog(t, "xa\na\n")
	r := NewReader()
	other, err := r.Search(t.Context(), path, Query{Text: "a", Limit: 1}, "", 0)
	if err != nil || other.Cursor == "" {
		t.Fatalf("Search(limit 1) of two matches = %+v, %v; want a cursor", other, err)
	}
	testkit.WriteFile(t, path, "a\na\n")
	valid, err := r.Search(t.Context(), path, Query{Text: "a", Limit: 1}, "", 0)
	if err != nil || valid.Cursor == "" {
		t.Fatalf("Search(limit 1) of two matches = %+v, %v; want a cursor", valid, err)
	}
	tests := []struct {
		name    string
		q       Query
		cursor  string
		wantErr error
		wantMsg string
	}{
		{"empty query", Query{}, "", ErrBadQuery, "empty query"},
		{"invalid regex", Query{Text: "(a", Regex: true}, "", ErrBadQuery, "missing closing )"},
		{"invalid regex flag", Query{Text: "(?z)a", Regex: true}, "", ErrBadQuery, "invalid or unsupported Perl syntax"},
		{"literal with a line break", Query{Text: "a\nb"}, "", ErrBadQuery, "span lines"},
		{"negative limit", Query{Text: "a", Limit: -1}, "", ErrBadQuery, "limit -1"},
		{"limit too large", Query{Text: "a", Limit: MaxSearchLimit + 1}, "", ErrBadQuery, "limit 1001"},
		{"negative lines", Query{Text: "a", LinesPerPage: -5}, "", ErrBadQuery, "lines per page -5"},
		{"cursor not base64", Query{Text: "a"}, "!!", ErrBadCursor, ""},
		{"cursor truncated", Query{Text: "a"}, valid.Cursor[:len(valid.Cursor)-3], ErrBadCursor, ""},
		{"cursor of another query", Query{Text: "b"}, valid.Cursor, ErrBadCursor, "another query"},
		{"cursor of another case", Query{Text: "a", CaseSensitive: true}, valid.Cursor, ErrBadCursor, "another query"},
		{"cursor into bytes that changed", Query{Text: "a"}, other.Cursor, ErrRotated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Search(t.Context(), path, tt.q, tt.cursor, 0)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmtErr(err), tt.wantMsg) {
				t.Errorf("Search(%+v, %q) error = %v; want %v with %q", tt.q, tt.cursor, err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// rotateByHand does what Rotate does with copytruncate and n backups, by
// hand, so that the test does not depend on the rotation method.
func rotateByHand(t *testing.T, path string, backups int, newLive string) {
	t.Helper()
	for i := backups - 1; i >= 1; i-- {
		if err := os.Rename(FilePath(path, i), FilePath(path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, FilePath(path, 1)+".tmp", string(data))
	if err := os.Rename(FilePath(path, 1)+".tmp", FilePath(path, 1)); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, path, newLive)
}

// TestSearchCursorAcrossRotation checks that a cursor follows its bytes
// into the backup they were rotated to, and reports when they are gone.
func TestSearchCursorAcrossRotation(t *testing.T) {
	q := Query{Text: "hit", Limit: 2}
	tests := []struct {
		name    string
		backups int
		calls   int // calls before rotating
		wantErr error
	}{
		{"cursor in the live log follows it to backup 1", 3, 1, nil},
		{"cursor in backup 1 follows it to backup 2", 3, 2, nil},
		{"cursor in a dropped backup is stale", 1, 2, ErrRotated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, "hit 1\nx\nhit 2\nhit 3\n", "hit 4\nhit 5\nx\nhit 6\n")
			r := NewReader()
			full, _ := searchAll(t, r, path, Query{Text: "hit", Limit: 100}, 0)
			var got []Match
			cursor := ""
			for range tt.calls {
				res, err := r.Search(t.Context(), path, q, cursor, 0)
				if err != nil {
					t.Fatal(err)
				}
				got, cursor = append(got, res.Matches...), res.Cursor
			}
			if cursor == "" {
				t.Fatalf("no cursor after %d calls", tt.calls)
			}
			rotateByHand(t, path, tt.backups, "hit new\n")
			for cursor != "" {
				res, err := r.Search(t.Context(), path, q, cursor, 0)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Search after rotation error = %v; want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Search after rotation: %v", err)
				}
				for _, m := range res.Matches {
					m.File-- // the file it was in when the search began
					got = append(got, m)
				}
				cursor = res.Cursor
			}
			if tt.wantErr != nil {
				t.Fatalf("Search after rotation ended without error; want %v", tt.wantErr)
			}
			for i := range got {
				got[i].Page, full[i].Page = 0, 0 // pages count from new ends
			}
			if !reflect.DeepEqual(got, full) {
				t.Errorf("matches before and after rotation = %+v; want %+v", got, full)
			}
		})
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{file: 2, end: 12345, nlBefore: 99, head: 1, tail: 2, query: 3}.encode())
	f.Add(cursor{file: 0, end: 1, nlBefore: -1}.encode())
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("decodeCursor(%q) error %v is not ErrBadCursor", s, err)
			}
			return
		}
		if c.file < 0 || c.end < 1 || c.nlBefore < -1 || c.nlBefore > c.end {
			t.Fatalf("decodeCursor(%q) = %+v: out of range", s, c)
		}
		back, err := decodeCursor(c.encode())
		if err != nil || back != c {
			t.Fatalf("decodeCursor(encode(%+v)) = %+v, %v", c, back, err)
		}
	})
}

// TestSearchWhileRotating searches, following cursors, while another
// goroutine appends numbered lines and rotates the log (copy, then truncate,
// as CopyTruncate does) between them. Newest first means the numbers found
// fall strictly: a repeat or a rise would be a match seen twice or out of
// order. A search may end with ErrRotated, which is allowed.
func TestSearchWhileRotating(t *testing.T) {
	path := writeLog(t, "")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			var sb strings.Builder
			for range 500 {
				fmt.Fprintf(&sb, "line %d\n", n)
				n++
			}
			err := appendTo(path, sb.String())
			if err == nil {
				// Pause so that some searches get through between rotations.
				time.Sleep(time.Millisecond)
				err = rotateCopyTruncate(path, 3)
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	r := NewReader()
	searches, stale, whole := 0, 0, 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); searches++ {
		last, cursor := -1, ""
		for {
			res, err := r.Search(t.Context(), path, Query{Text: "7 ", Regex: false, Limit: 50}, cursor, 0)
			if errors.Is(err, ErrRotated) {
				stale++
				break
			}
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			for _, m := range res.Matches {
				var n int
				if _, err := fmt.Sscanf(m.Text, "line %d", &n); err != nil {
					t.Fatalf("match %+v: %v", m, err)
				}
				if last >= 0 && n >= last {
					t.Fatalf("search %d: line %d came after line %d", searches, n, last)
				}
				last = n
			}
			if cursor = res.Cursor; cursor == "" {
				whole++
				break
			}
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d searches: %d to the end, %d ended with ErrRotated", searches, whole, stale)
	if whole == 0 {
		t.Errorf("no search got to the end")
	}
}

func appendTo(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rotateCopyTruncate shifts the backups, copies the live log to backup 1
// and empties it, keeping its inode.
func rotateCopyTruncate(path string, backups int) error {
	for i := backups - 1; i >= 1; i-- {
		if err := os.Rename(FilePath(path, i), FilePath(path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(FilePath(path, 1)+".tmp", data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(FilePath(path, 1)+".tmp", FilePath(path, 1)); err != nil {
		return err
	}
	return os.Truncate(path, 0)
}

// TestSearchFilesNoticeRotation checks the two checks that catch a rotation
// that is not caught by a short read: the names no longer being the opened
// files, and the live log rewritten past the size it was opened at.
func TestSearchFilesNoticeRotation(t *testing.T) {
	path := writeLog(t, "live 1\n", "backup 1\n")
	files, err := openSearchFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSearchFiles(files)
	if !sameSearchFiles(path, files) || files[0].checkUnchanged() != nil {
		t.Fatal("files seen as changed before any change")
	}
	appendFile(t, path, "live 2\n")
	if !sameSearchFiles(path, files) || files[0].checkUnchanged() != nil {
		t.Error("an append is seen as a change")
	}
	rotateCopyTruncate(path, 3)
	if sameSearchFiles(path, files) {
		t.Error("sameSearchFiles after a rotation = true; want false")
	}
	appendFile(t, path, "new live log, longer than the old one\n")
	if err := files[0].checkUnchanged(); !errors.Is(err, errChangedWhileReading) {
		t.Errorf("checkUnchanged after a rotation and regrowth = %v; want errChangedWhileReading", err)
	}
}
