package logfile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestPageSpan(t *testing.T) {
	tests := []struct {
		name                     string
		total, page, perPage     int
		wantFirst, wantLast, all int
	}{
		{"empty file", 0, 1, 10, 0, 0, 1},
		{"one line", 1, 1, 10, 1, 1, 1},
		{"exactly one page", 10, 1, 10, 1, 10, 1},
		{"one more than a page: page 1 is the tail", 11, 1, 10, 2, 11, 2},
		{"one more than a page: page 2 is the first line", 11, 2, 10, 1, 1, 2},
		{"middle page", 35, 2, 10, 16, 25, 4},
		{"oldest partial page", 35, 4, 10, 1, 5, 4},
		{"page beyond the end", 35, 5, 10, 0, 0, 4},
		{"far beyond the end", 3, 100, 10, 0, 0, 1},
		{"lines more than the file", 3, 1, 1000, 1, 3, 1},
		{"largest page number", 35, math.MaxInt, 10, 0, 0, 4},
		{"largest page number, largest page size", 35, math.MaxInt, math.MaxInt, 0, 0, 1},
		{"a page number that overflows a product", 10_000, math.MaxInt/5000 + 2, 5000, 0, 0, 2},
		{"largest file", math.MaxInt, 1, 5000, math.MaxInt - 4999, math.MaxInt, math.MaxInt/5000 + 1},
		{"largest file, oldest page", math.MaxInt, math.MaxInt/5000 + 1, 5000, 1, math.MaxInt % 5000, math.MaxInt/5000 + 1},
		{"page 0", 35, 0, 10, 0, 0, 4},
		{"negative page", 35, math.MinInt, 10, 0, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last, pages := pageSpan(tt.total, tt.page, tt.perPage)
			if first != tt.wantFirst || last != tt.wantLast || pages != tt.all {
				t.Errorf("pageSpan(%d, %d, %d) = %d, %d, %d; want %d, %d, %d",
					tt.total, tt.page, tt.perPage, first, last, pages, tt.wantFirst, tt.wantLast, tt.all)
			}
		})
	}
}

func TestReaderPage(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	tests := []struct {
		name          string
		content       string
		page, perPage int
		want          Page
	}{
		{"empty file", "", 1, 10, Page{Page: 1, Pages: 1}},
		{"one line without newline", "only", 1, 10,
			Page{Lines: []string{"only"}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 1, TotalLines: 1, SizeBytes: 4}},
		{"exactly one page", "a\nb\nc\n", 1, 3,
			Page{Lines: []string{"a", "b", "c"}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 3, TotalLines: 3, SizeBytes: 6}},
		{"one more than a page: tail", "a\nb\nc\nd\n", 1, 3,
			Page{Lines: []string{"b", "c", "d"}, Page: 1, Pages: 2, FirstLine: 2, LastLine: 4, TotalLines: 4, SizeBytes: 8}},
		{"one more than a page: oldest", "a\nb\nc\nd\n", 2, 3,
			Page{Lines: []string{"a"}, Page: 2, Pages: 2, FirstLine: 1, LastLine: 1, TotalLines: 4, SizeBytes: 8}},
		{"middle page", "1\n2\n3\n4\n5\n6\n7\n", 2, 2,
			Page{Lines: []string{"4", "5"}, Page: 2, Pages: 4, FirstLine: 4, LastLine: 5, TotalLines: 7, SizeBytes: 14}},
		{"page beyond the end", "1\n2\n3\n", 3, 2,
			Page{Page: 3, Pages: 2, TotalLines: 3, SizeBytes: 6}},
		{"lines more than the file", "1\n2\n", 1, 50,
			Page{Lines: []string{"1", "2"}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 2, TotalLines: 2, SizeBytes: 4}},
		{"no trailing newline", "1\n2\n3", 1, 2,
			Page{Lines: []string{"2", "3"}, Page: 1, Pages: 2, FirstLine: 2, LastLine: 3, TotalLines: 3, SizeBytes: 5}},
		{"empty lines count", "\n\n\n", 1, 10,
			Page{Lines: []string{"", "", ""}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 3, TotalLines: 3, SizeBytes: 3}},
		{"CRLF stripped, lone CR kept", "a\r\nb\rc\r\nd\r", 1, 10,
			Page{Lines: []string{"a", "b\rc", "d\r"}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 3, TotalLines: 3, SizeBytes: 10}},
		{"invalid UTF-8 kept raw", "\xff\xfe\n", 1, 10,
			Page{Lines: []string{"\xff\xfe"}, Page: 1, Pages: 1, FirstLine: 1, LastLine: 1, TotalLines: 1, SizeBytes: 3}},
		{"long line truncated", "a\n" + long + "\nb", 1, 10,
			Page{Lines: []string{"a", long[:maxLineBytes] + truncatedMarker, "b"}, Page: 1, Pages: 1,
				FirstLine: 1, LastLine: 3, TotalLines: 3, SizeBytes: int64(len(long) + 4)}},
		{"long last line without newline truncated", long, 1, 10,
			Page{Lines: []string{long[:maxLineBytes] + truncatedMarker}, Page: 1, Pages: 1,
				FirstLine: 1, LastLine: 1, TotalLines: 1, SizeBytes: int64(len(long))}},
		{"line of exactly the cap kept whole", long[:maxLineBytes] + "\n", 1, 10,
			Page{Lines: []string{long[:maxLineBytes]}, Page: 1, Pages: 1,
				FirstLine: 1, LastLine: 1, TotalLines: 1, SizeBytes: maxLineBytes + 1}},
	}
	for _, tt := range tests {
		// Mark spacing 1 and 2 exercise the index marks; the default is the
		// production setting.
		for _, k := range []int{1, 2, defaultMarkEvery} {
			t.Run(fmt.Sprintf("%s/k=%d", tt.name, k), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "app.log")
				testkit.WriteFile(t, path, tt.content)
				got, err := newReader(k).Page(path, tt.page, tt.perPage)
				if err != nil {
					t.Fatalf("Page(%d, %d) error: %v", tt.page, tt.perPage, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Page(%d, %d) of %q =\n %+v\nwant\n %+v", tt.page, tt.perPage, shorten(tt.content), shortPage(got), shortPage(tt.want))
				}
			})
		}
	}
}

func TestReaderPageErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	testkit.WriteFile(t, path, "a\n")
	r := NewReader()
	for _, tt := range []struct {
		name          string
		page, perPage int
	}{{"page 0", 0, 10}, {"negative page", -1, 10}, {"zero lines", 1, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Page(path, tt.page, tt.perPage); err == nil {
				t.Errorf("Page(%d, %d) error = nil; want an error", tt.page, tt.perPage)
			}
		})
	}
	t.Run("missing file is an empty page", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none.log")
		got, err := r.Page(missing, 2, 10)
		want := Page{Page: 2, Pages: 1}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Page(missing, 2, 10) = %+v, %v; want %+v, nil", got, err, want)
		}
	})
}

// TestReaderMatchesNaive compares every page of random files, grown by random
// appends that split lines anywhere, with a plain split of the whole file.
func TestReaderMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{1, 3, 16} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			testkit.WriteFile(t, path, "")
			r := newReader(k)
			var content strings.Builder
			for step := range 30 {
				chunk := randomLines(rng, rng.IntN(40))
				// Cut anywhere, so appends end inside lines and CRLFs.
				chunk = chunk[:rng.IntN(len(chunk)+1)]
				appendFile(t, path, chunk)
				content.WriteString(chunk)
				want := naiveLines(content.String())
				for _, perPage := range []int{1, 4, 7} {
					for page := 1; page <= len(want)/perPage+2; page++ {
						got, err := r.Page(path, page, perPage)
						if err != nil {
							t.Fatalf("step %d: Page(%d, %d) error: %v", step, page, perPage, err)
						}
						first, last, pages := pageSpan(len(want), page, perPage)
						var wantLines []string
						if first > 0 {
							wantLines = want[first-1 : last]
						}
						if got.TotalLines != len(want) || got.Pages != pages || got.FirstLine != first ||
							got.LastLine != last || !reflect.DeepEqual(got.Lines, wantLines) {
							t.Fatalf("step %d: Page(%d, %d) = %+v; want lines %d-%d of %d: %q",
								step, page, perPage, shortPage(got), first, last, len(want), wantLines)
						}
					}
				}
			}
		})
	}
}

// TestReaderIndexFollowsRotation checks that the index is rebuilt when the
// file shrank, and also when it was rotated and grew back past its old size
// before the next request.
func TestReaderIndexFollowsRotation(t *testing.T) {
	tests := []struct {
		name    string
		after   string // the content after the rotation
		replace bool   // a new file renamed over path, rather than truncated in place
	}{
		{"shrank", "new 1\n", false},
		{"grew past the old size", numbered("after rotation", 1, 50), false},
		{"replaced by another file", numbered("other", 1, 7), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			testkit.WriteFile(t, path, numbered("old", 1, 20))
			r := newReader(4)
			if _, err := r.Page(path, 1, 5); err != nil {
				t.Fatalf("Page before rotation: %v", err)
			}
			after := tt.after
			if tt.replace {
				other := path + ".new"
				testkit.WriteFile(t, other, after)
				if err := os.Rename(other, path); err != nil {
					t.Fatal(err)
				}
			} else {
				// Same inode, as a copytruncate rotation leaves it.
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, after)
			}
			want := naiveLines(after)
			got, err := r.Page(path, 1, 3)
			if err != nil {
				t.Fatalf("Page after rotation: %v", err)
			}
			if got.TotalLines != len(want) || !reflect.DeepEqual(got.Lines, want[max(0, len(want)-3):]) {
				t.Errorf("Page(1, 3) after rotation = %+v; want the last 3 of %d lines %q", shortPage(got), len(want), want)
			}
		})
	}
}

// TestReaderConcurrent runs pages of two files from many goroutines while one
// of them grows; under -race this checks the Reader's locking.
func TestReaderConcurrent(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	testkit.WriteFile(t, a, numbered("a", 1, 100))
	testkit.WriteFile(t, b, numbered("b", 1, 100))
	r := newReader(8)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				path := a
				if g%2 == 0 {
					path = b
				}
				p, err := r.Page(path, 1+i%3, 10)
				if err != nil {
					errs <- err
					return
				}
				if path == a && (p.TotalLines != 100 || len(p.Lines) != 10) {
					errs <- fmt.Errorf("Page(a, %d, 10) = %d lines of %d; want 10 of 100", 1+i%3, len(p.Lines), p.TotalLines)
					return
				}
			}
		})
	}
	for i := range 100 {
		appendFile(t, b, fmt.Sprintf("b more %d\n", i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p, err := r.Page(b, 1, 1)
	if err != nil || p.TotalLines != 200 || p.Lines[0] != "b more 99" {
		t.Errorf("Page(b, 1, 1) after appends = %+v, %v; want line 200 %q", shortPage(p), err, "b more 99")
	}
}

// naiveLines is the reference: split everything, apply the same line rules.
func naiveLines(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\n")
	last := parts[len(parts)-1]
	parts = parts[:len(parts)-1]
	for i, p := range parts {
		parts[i] = trimLine([]byte(p), true, false)
	}
	if last != "" {
		parts = append(parts, trimLine([]byte(last), false, false))
	}
	return parts
}

func randomLines(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		switch rng.IntN(6) {
		case 0:
			sb.WriteString("\n")
		case 1:
			sb.WriteString("crlf line\r\n")
		default:
			sb.WriteString(strings.Repeat("y", rng.IntN(30)) + fmt.Sprint(rng.IntN(1000)) + "\n")
		}
	}
	return sb.String()
}

func numbered(prefix string, from, to int) string {
	var sb strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&sb, "%s %d\n", prefix, i)
	}
	return sb.String()
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// shortPage keeps failure messages readable when a page holds huge lines.
func shortPage(p Page) Page {
	lines := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = shorten(l)
	}
	p.Lines = lines
	return p
}

func shorten(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…(%d bytes)", s[:40], len(s))
	}
	return s
}

// FuzzPageSpan checks the page arithmetic for any numbers, as a query string
// can carry them: it never panics, pages is at least 1, and a page holds
// lines first..last of the file, at most perPage of them, page 1 ending at
// the last line, or is empty.
func FuzzPageSpan(f *testing.F) {
	f.Add(0, 1, 10)
	f.Add(35, 4, 10)
	f.Add(100, math.MaxInt, 5000)
	f.Add(math.MaxInt, math.MaxInt/5000+1, 5000)
	f.Add(10_000, math.MaxInt/5000+2, 5000)
	f.Fuzz(func(t *testing.T, total, page, perPage int) {
		first, last, pages := pageSpan(total, page, perPage)
		call := fmt.Sprintf("pageSpan(%d, %d, %d) = %d, %d, %d", total, page, perPage, first, last, pages)
		if pages < 1 {
			t.Fatalf("%s: pages below 1", call)
		}
		if first == 0 || last == 0 {
			if first != 0 || last != 0 {
				t.Fatalf("%s: an empty page has first and last 0", call)
			}
			if page >= 1 && page <= pages && total > 0 {
				t.Fatalf("%s: page %d of %d of a file of %d lines is empty", call, page, pages, total)
			}
			return
		}
		if first < 1 || first > last || last > total {
			t.Fatalf("%s: want 1 <= first <= last <= total", call)
		}
		if page < 1 || page > pages {
			t.Fatalf("%s: a page outside 1..pages has lines", call)
		}
		if n := last - first + 1; n > max(perPage, 1) {
			t.Fatalf("%s: %d lines on a page of %d", call, n, perPage)
		}
		if page == 1 && last != total {
			t.Fatalf("%s: page 1 does not end at the last line", call)
		}
		if page == pages && first != 1 {
			t.Fatalf("%s: the last page does not start at line 1", call)
		}
	})
}
