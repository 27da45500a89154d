package logfile

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// writeLog writes the live log files[0] and its backups files[1:] into a new
// directory, skipping those that are "-", and returns the live log's path.
func writeLog(t *testing.T, files ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.log")
	for k, content := range files {
		if content == "-" {
			continue
		}
		testkit.WriteFile(t, FilePath(path, k), content)
	}
	return path
}

// searchAll runs a search to its end, following cursors, and checks that
// every call returned at most the limit.
func searchAll(t *testing.T, r *Reader, path string, q Query, budget time.Duration) ([]Match, int) {
	t.Helper()
	var all []Match
	cursor, calls := "", 0
	for {
		res, err := r.Search(t.Context(), path, q, cursor, budget)
		if err != nil {
			t.Fatalf("Search(%+v, cursor %q) after %d calls: %v", q, cursor, calls, err)
		}
		calls++
		if limit := max(q.Limit, 1); q.Limit > 0 && len(res.Matches) > limit {
			t.Fatalf("Search(%+v) returned %d matches; limit %d", q, len(res.Matches), limit)
		}
		all = append(all, res.Matches...)
		if res.Cursor == "" {
			return all, calls
		}
		if calls > 1_000_000 {
			t.Fatal("search does not end")
		}
		cursor = res.Cursor
	}
}

func TestSearch(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes-3) + "needle"
	tests := []struct {
		name  string
		files []string
		q     Query
		want  []Match // Page is checked by TestSearchMatchesNaive
	}{
		{"literal newest first, backups after the live log",
			[]string{"a err 1\nb\nc err 2\n", "d err 3\ne\n", "err 4\n"}, Query{Text: "err"},
			[]Match{{File: 0, Line: 3, Text: "c err 2"}, {File: 0, Line: 1, Text: "a err 1"},
				{File: 1, Line: 1, Text: "d err 3"}, {File: 2, Line: 1, Text: "err 4"}}},
		{"case-insensitive by default",
			[]string{"ERROR x\nerror y\nErRoR z\nnone\n"}, Query{Text: "eRRor"},
			[]Match{{0, 3, 0, "ErRoR z"}, {0, 2, 0, "error y"}, {0, 1, 0, "ERROR x"}}},
		{"case-insensitive on a letter-only literal",
			[]string{"xQz\nqz\nQZ\n"}, Query{Text: "qz"},
			[]Match{{0, 3, 0, "QZ"}, {0, 2, 0, "qz"}, {0, 1, 0, "xQz"}}},
		{"case-sensitive",
			[]string{"ERROR x\nerror y\n"}, Query{Text: "error", CaseSensitive: true},
			[]Match{{0, 2, 0, "error y"}}},
		{"case-insensitive beyond ASCII",
			[]string{"ÉTÉ\nhiver\nété\n"}, Query{Text: "été"},
			[]Match{{0, 3, 0, "été"}, {0, 1, 0, "ÉTÉ"}}},
		{"a line holding the text twice is one match",
			[]string{"ab ab\n"}, Query{Text: "ab"}, []Match{{0, 1, 0, "ab ab"}}},
		{"regex with a literal",
			[]string{"job 12 ok\njob 1x ok\nJOB 7 ok\n"}, Query{Text: `job \d+ ok`, Regex: true},
			[]Match{{0, 3, 0, "JOB 7 ok"}, {0, 1, 0, "job 12 ok"}}},
		{"regex without a literal",
			[]string{"a1\nbb\n22\n"}, Query{Text: `[0-9]`, Regex: true},
			[]Match{{0, 3, 0, "22"}, {0, 1, 0, "a1"}}},
		{"regex anchors are line anchors",
			[]string{"ab\nba\nab\n"}, Query{Text: `^a|a$`, Regex: true},
			[]Match{{0, 3, 0, "ab"}, {0, 2, 0, "ba"}, {0, 1, 0, "ab"}}},
		{"regex $ before a CRLF",
			[]string{"ok\r\nko\r\n"}, Query{Text: `k$`, Regex: true}, []Match{{0, 1, 0, "ok"}}},
		{"regex cannot span lines",
			[]string{"a\nb\n"}, Query{Text: `a\sb`, Regex: true}, nil},
		{"a regex class does not join lines",
			[]string{"a\nb\n"}, Query{Text: `a[^x]b`, Regex: true}, nil},
		{"last line without newline",
			[]string{"x\nlast err"}, Query{Text: "err"}, []Match{{0, 2, 0, "last err"}}},
		{"missing live log: the backups are searched",
			[]string{"-", "err\n"}, Query{Text: "err"}, []Match{{1, 1, 0, "err"}}},
		{"a gap ends the backups",
			[]string{"err\n", "err\n", "-", "err\n"}, Query{Text: "err"},
			[]Match{{0, 1, 0, "err"}, {1, 1, 0, "err"}}},
		{"text past the viewer's cut is not searched",
			[]string{long + "\nneedle\n"}, Query{Text: "needle"}, []Match{{0, 2, 0, "needle"}}},
		{"text within the viewer's cut is found in a long line",
			[]string{"needle" + long + "\n"}, Query{Text: "NEEDLE"},
			[]Match{{0, 1, 0, ("needle" + long)[:maxLineBytes] + truncatedMarker}}},
		// Rotation can end backup 1 inside a line and start the live log
		// with the rest of it: they are two lines to the search as to Page.
		{"a line split by rotation is two lines",
			[]string{"ion error\nnext\n", "old\nrotat"}, Query{Text: "rotation"}, nil},
		{"both halves of a split line are found",
			[]string{"ion error\nnext\n", "old\nrotat"}, Query{Text: "o"},
			[]Match{{0, 1, 0, "ion error"}, {1, 2, 0, "rotat"}, {1, 1, 0, "old"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, tt.files...)
			res, err := NewReader().Search(t.Context(), path, tt.q, "", 0)
			if err != nil {
				t.Fatalf("Search(%+v) error: %v", tt.q, err)
			}
			for i := range res.Matches {
				res.Matches[i].Page = 0
			}
			if !reflect.DeepEqual(res.Matches, tt.want) || res.Cursor != "" {
				t.Errorf("Search(%+v) = %+v, cursor %q; want %+v, no cursor", tt.q, res.Matches, res.Cursor, tt.want)
			}
		})
	}
}

func TestSearchScannedBytes(t *testing.T) {
	path := writeLog(t, "abc\n", "de\n")
	res, err := NewReader().Search(t.Context(), path, Query{Text: "zzz"}, "", 0)
	if err != nil || res.ScannedBytes != 7 {
		t.Errorf("Search = %d bytes scanned, %v; want 7", res.ScannedBytes, err)
	}
}

// naiveSearch is the reference: every line of every file, split in full,
// newest first.
func naiveSearch(t *testing.T, path string, q Query) []Match {
	t.Helper()
	pattern := regexp.QuoteMeta(q.Text)
	if q.Regex {
		pattern = q.Text
	}
	if !q.CaseSensitive {
		pattern = "(?i)" + pattern
	}
	re := regexp.MustCompile(pattern)
	var out []Match
	for k := 0; ; k++ {
		data, err := os.ReadFile(FilePath(path, k))
		if errors.Is(err, os.ErrNotExist) && k > 0 {
			return out
		}
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for i := len(lines) - 1; i >= 0; i-- {
			line, newline := strings.CutSuffix(lines[i], "\n")
			view := line
			if len(line) > maxLineBytes {
				view = line[:maxLineBytes]
			} else if newline {
				view = strings.TrimSuffix(line, "\r")
			}
			if re.MatchString(view) {
				page := 1
				for first, _, _ := pageSpan(len(lines), page, q.LinesPerPage); first > i+1; page++ {
					first, _, _ = pageSpan(len(lines), page+1, q.LinesPerPage)
				}
				out = append(out, Match{File: k, Line: i + 1, Page: page,
					Text: trimLine([]byte(line), newline, len(line) > maxLineBytes)})
			}
		}
	}
}

// TestSearchMatchesNaive compares searches of random logs with the naive
// reference, and checks that each match is on the page Reader.Page gives.
func TestSearchMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	queries := []Query{
		{Text: "y1"}, {Text: "Y1", CaseSensitive: true}, {Text: "crlf"}, {Text: "LINE"},
		{Text: `y+[0-9]7`, Regex: true}, {Text: `^[0-9]+$`, Regex: true}, {Text: `e$`, Regex: true},
		{Text: `(?i)Y{3}\d`, Regex: true, CaseSensitive: true}, {Text: "9"},
	}
	for round := range 20 {
		files := make([]string, 1+rng.IntN(4))
		for k := range files {
			files[k] = randomLines(rng, rng.IntN(300))
			files[k] = files[k][:rng.IntN(len(files[k])+1)] // may end inside a line
		}
		path := writeLog(t, files...)
		r := NewReader()
		for _, q := range queries {
			q.LinesPerPage = 1 + rng.IntN(20)
			want := naiveSearch(t, path, q)
			q.Limit = 1000
			got, _ := searchAll(t, r, path, q, 0)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: Search(%+v) = %d matches %+v\nwant %d: %+v", round, q, len(got), got, len(want), want)
			}
			for _, m := range got {
				p, err := r.Page(FilePath(path, m.File), m.Page, q.LinesPerPage)
				if err != nil || m.Line < p.FirstLine || m.Line > p.LastLine || p.Lines[m.Line-p.FirstLine] != m.Text {
					t.Fatalf("round %d: match %+v is not on Page(%d, %d) = %+v, %v", round, m, m.Page, q.LinesPerPage, shortPage(p), err)
				}
			}
		}
	}
}

// bigNumbered writes lines "line <n> <word>" with word "even"/"odd".
func bigNumbered(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "line %d %s %s\n", i, []string{"even", "odd"}[i%2], strings.Repeat("p", i%97))
	}
	return sb.String()
}

// TestSearchResumes checks that following cursors, one match at a time or
// with a budget so small that every call reads a single block, yields the
// same matches as one search with a large limit.
func TestSearchResumes(t *testing.T) {
	path := writeLog(t, bigNumbered(20000, 30000), bigNumbered(10000, 20000), bigNumbered(0, 10000))
	r := NewReader()
	for _, q := range []Query{
		{Text: "99 ODD"}, {Text: "77 odd", CaseSensitive: true}, {Text: `line \d*36 even`, Regex: true},
		{Text: `[24][0-1]{3}\s`, Regex: true},
	} {
		t.Run(q.Text, func(t *testing.T) {
			q.Limit = 1000
			want, _ := searchAll(t, r, path, q, time.Hour)
			if len(want) < 40 {
				t.Fatalf("Search(%+v) = %d matches; the test wants at least 40", q, len(want))
			}
			if naive := naiveSearch(t, path, Query{Text: q.Text, Regex: q.Regex, CaseSensitive: q.CaseSensitive, LinesPerPage: DefaultLinesPerPage}); !reflect.DeepEqual(want, naive) {
				t.Fatalf("Search(%+v) = %d matches; naive %d", q, len(want), len(naive))
			}
			one := q
			one.Limit = 1
			if got, calls := searchAll(t, r, path, one, time.Hour); !reflect.DeepEqual(got, want) {
				t.Errorf("Search with limit 1 = %d matches in %d calls; want %d", len(got), calls, len(want))
			}
			got, calls := searchAll(t, r, path, q, time.Nanosecond)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Search with a 1 ns budget = %d matches; want %d", len(got), len(want))
			}
			if calls < 3 {
				t.Errorf("Search with a 1 ns budget took %d calls for 3 files; want one call per block", calls)
			}
		})
	}
}
