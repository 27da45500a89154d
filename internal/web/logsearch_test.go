package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
)

// logSet writes a log with backups for program name: file k of files holds
// lines[k], numbered across all files from the oldest (the last file) up,
// each "event N" with " Needle" on every N divisible by 7. It returns the
// lines of each file and the log's path.
func logSet(t *testing.T, f *fixture, name string, sizes ...int) ([][]string, string) {
	t.Helper()
	path, err := f.sup.LogPath(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	files := make([][]string, len(sizes))
	n := 0
	for k := len(sizes) - 1; k >= 0; k-- {
		var b strings.Builder
		for range sizes[k] {
			n++
			line := fmt.Sprintf("event %d", n)
			if n%7 == 0 {
				line += " Needle"
			}
			files[k] = append(files[k], line)
			b.WriteString(line + "\n")
		}
		name := path
		if k > 0 {
			name += "." + strconv.Itoa(k)
		}
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files, path
}

// get sends a GET to the real server at base and returns what came back.
func get(t *testing.T, base, target string) response {
	t.Helper()
	resp, err := http.Get(base + target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func TestLogPageOfBackups(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	files, path := logSet(t, f, "My App", 30, 50, 45)
	modified := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(path+".2", modified, modified); err != nil {
		t.Fatal(err)
	}
	base := programPath("My App", "/logs")
	for _, c := range []struct {
		query              string
		file, first, count int
	}{
		{"", 0, 1, 30},
		{"?file=0&lines=10", 0, 21, 10},
		{"?file=1", 1, 1, 50},
		{"?file=1&page=2&lines=20", 1, 11, 20},
		{"?file=2&page=3&lines=20", 2, 1, 5},
	} {
		t.Run("query "+c.query, func(t *testing.T) {
			r := get(t, srv.URL, base+c.query)
			if r.status != 200 {
				t.Fatalf("GET %s%s = %d %s, want 200", base, c.query, r.status, r.body)
			}
			p := decode[api.LogPage](t, "GET "+base+c.query, r)
			want := files[c.file][c.first-1 : c.first-1+c.count]
			if p.File != c.file || p.FirstLine != c.first || !slices.Equal(p.Lines, want) || p.TotalLines != len(files[c.file]) {
				t.Errorf("GET %s%s: file %d, lines %d.. %q of %d; want file %d, lines %d.. %q of %d",
					base, c.query, p.File, p.FirstLine, p.Lines, p.TotalLines, c.file, c.first, want, len(files[c.file]))
			}
			var got []string
			for _, fi := range p.Files {
				got = append(got, fmt.Sprintf("%d:%d", fi.File, fi.SizeBytes))
			}
			wantFiles := []string{"0:" + size(files[0]), "1:" + size(files[1]), "2:" + size(files[2])}
			if !slices.Equal(got, wantFiles) {
				t.Errorf("GET %s%s: files %q, want %q", base, c.query, got, wantFiles)
			}
			if len(p.Files) == 3 && !p.Files[2].Modified.Equal(modified) {
				t.Errorf("GET %s%s: file 2 modified %v, want %v", base, c.query, p.Files[2].Modified, modified)
			}
			if !strings.Contains(r.body, `"modified":"2024-05-06T`) {
				t.Errorf("GET %s%s: body %s lacks an RFC 3339 modified time", base, c.query, r.body)
			}
		})
	}
	for _, c := range []struct {
		query, want string
		status      int
	}{
		{"?file=3", "no log file 3", 404},
		{"?file=99&page=2", "no log file 99", 404},
		{"?file=-1", "file=-1", 400},
		{"?file=x", `file="x"`, 400},
	} {
		t.Run("bad "+c.query, func(t *testing.T) {
			r := get(t, srv.URL, base+c.query)
			if r.status != c.status || !strings.Contains(decode[api.Error](t, "GET "+base+c.query, r).Error, c.want) {
				t.Errorf("GET %s%s = %d %s, want %d with an error naming %q", base, c.query, r.status, r.body, c.status, c.want)
			}
		})
	}
}

func size(lines []string) string {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	return strconv.Itoa(n)
}

func TestLogDownload(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	files, _ := logSet(t, f, "My App", 30, 50)
	for _, c := range []struct {
		file     int
		filename string
	}{{0, "My App.log"}, {1, "My App.log.1"}} {
		t.Run(c.filename, func(t *testing.T) {
			target := programPath("My App", "/logs/download") + fmt.Sprintf("?file=%d", c.file)
			r := get(t, srv.URL, target)
			want := strings.Join(files[c.file], "\n") + "\n"
			if r.status != 200 || r.body != want {
				t.Fatalf("GET %s = %d %q, want 200 %q", target, r.status, r.body, want)
			}
			for k, v := range map[string]string{
				"Content-Type":        "text/plain; charset=utf-8",
				"Content-Disposition": `attachment; filename="` + c.filename + `"`,
				"Content-Length":      strconv.Itoa(len(want)),
			} {
				if got := r.header.Get(k); got != v {
					t.Errorf("GET %s: %s = %q, want %q", target, k, got, v)
				}
			}
		})
	}
	t.Run("a name beyond ASCII", func(t *testing.T) {
		logSet(t, f, "Ünïcødé✓", 3)
		target := programPath("Ünïcødé✓", "/logs/download")
		r := get(t, srv.URL, target)
		want := "attachment; filename*=utf-8''%C3%9Cn%C3%AFc%C3%B8d%C3%A9%E2%9C%93.log"
		if got := r.header.Get("Content-Disposition"); r.status != 200 || got != want {
			t.Errorf("GET %s = %d, Content-Disposition %q; want 200, %q", target, r.status, got, want)
		}
	})
	for _, c := range []struct {
		query  string
		status int
	}{{"?file=2", 404}, {"?file=-2", 400}, {"?file=1e3", 400}} {
		t.Run("bad "+c.query, func(t *testing.T) {
			target := programPath("My App", "/logs/download") + c.query
			if r := get(t, srv.URL, target); r.status != c.status || decode[api.Error](t, "GET "+target, r).Error == "" {
				t.Errorf("GET %s = %d %s, want %d with an error", target, r.status, r.body, c.status)
			}
		})
	}
	t.Run("unknown program", func(t *testing.T) {
		if r := get(t, srv.URL, "/api/programs/nope/logs/download"); r.status != 404 {
			t.Errorf("GET /api/programs/nope/logs/download = %d %s, want 404", r.status, r.body)
		}
	})
}

// TestLogDownloadStreams downloads a 256 MiB log and checks that serving it
// allocated far less than its size: the file is copied, not read into memory.
func TestLogDownloadStreams(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	_, path := logSet(t, f, "My App", 1, 1)
	const big = 256 << 20
	// Sparse: the test costs no disk space, and reads of it are quick.
	if err := os.Truncate(path+".1", big); err != nil {
		t.Fatal(err)
	}
	target := programPath("My App", "/logs/download") + "?file=1"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.Get(srv.URL + target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	buf := make([]byte, 64<<10)
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, buf)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != big || resp.Header.Get("Content-Length") != strconv.Itoa(big) {
		t.Fatalf("GET %s: read %d bytes, %v, Content-Length %s; want %d bytes", target, n, err, resp.Header.Get("Content-Length"), big)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > big/8 {
		t.Errorf("GET %s of a %d-byte file allocated %d bytes; want well under the file's size", target, big, alloc)
	}
}

// searchAll follows the cursors of a search from target until the end,
// returning every match and the number of requests made.
func searchAll(t *testing.T, base, target string) ([]api.LogMatch, int) {
	t.Helper()
	return searchFrom(t, base, target, "")
}

// searchFrom is searchAll starting at cursor.
func searchFrom(t *testing.T, base, target, cursor string) ([]api.LogMatch, int) {
	t.Helper()
	var all []api.LogMatch
	for n := 1; ; n++ {
		u := target
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		r := get(t, base, u)
		if r.status != 200 {
			t.Fatalf("GET %s = %d %s, want 200", u, r.status, r.body)
		}
		res := decode[api.LogSearch](t, "GET "+u, r)
		all = append(all, res.Matches...)
		if res.NextCursor == nil {
			return all, n
		}
		cursor = *res.NextCursor
		if n > 1000 {
			t.Fatalf("GET %s: still a cursor after %d requests", target, n)
		}
	}
}

// wantMatches are the matches of "needle" in the files logSet wrote, newest
// first, with pages of perPage lines.
func wantMatches(files [][]string, perPage int, keep func(string) bool) []api.LogMatch {
	var out []api.LogMatch
	for k, lines := range files {
		for i := len(lines) - 1; i >= 0; i-- {
			if keep(lines[i]) {
				out = append(out, api.LogMatch{File: k, Line: i + 1, Page: (len(lines)-i-1)/perPage + 1, Text: lines[i]})
			}
		}
	}
	return out
}

func TestLogSearch(t *testing.T) {
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	files, path := logSet(t, f, "My App", 30, 50, 45)
	base := programPath("My App", "/logs/search")
	hasNeedle := func(s string) bool { return strings.HasSuffix(s, " Needle") }

	t.Run("all files, newest first", func(t *testing.T) {
		target := base + "?q=needle&lines=20"
		got, _ := searchAll(t, srv.URL, target)
		want := wantMatches(files, 20, hasNeedle)
		if !slices.Equal(got, want) {
			t.Errorf("GET %s: matches\n%v\nwant\n%v", target, got, want)
		}
		if files := []int{got[0].File, got[len(got)-1].File}; files[0] != 0 || files[1] != 2 {
			t.Errorf("GET %s: matches run from file %d to %d, want 0 to 2", target, files[0], files[1])
		}
	})
	t.Run("cursors resume without repeating or skipping", func(t *testing.T) {
		target := base + "?q=needle&limit=2"
		got, requests := searchAll(t, srv.URL, target)
		want := wantMatches(files, 200, hasNeedle)
		if !slices.Equal(got, want) || requests < len(want)/2 {
			t.Errorf("GET %s and its cursors (%d requests): matches\n%v\nwant\n%v", target, requests, got, want)
		}
	})
	t.Run("case and regex", func(t *testing.T) {
		for _, c := range []struct {
			query string
			keep  func(string) bool
		}{
			{"?q=needle&case=1", func(string) bool { return false }},
			{"?q=Needle&case=1", hasNeedle},
			{"?q=" + url.QueryEscape(`^event \d*5 `) + "&regex=1", func(s string) bool {
				return strings.HasPrefix(s, "event ") && strings.HasSuffix(strings.Fields(s)[1], "5") && len(strings.Fields(s)) > 2
			}},
			{"?q=" + url.QueryEscape(`1\d$`) + "&regex=1", func(s string) bool {
				n := strings.TrimPrefix(s, "event ")
				return len(n) >= 2 && n[len(n)-2] == '1' && n[len(n)-1] >= '0' && n[len(n)-1] <= '9'
			}},
		} {
			got, _ := searchAll(t, srv.URL, base+c.query)
			if want := wantMatches(files, 200, c.keep); !slices.Equal(got, want) {
				t.Errorf("GET %s%s: matches\n%v\nwant\n%v", base, c.query, got, want)
			}
		}
	})
	t.Run("a cursor across a rotation", func(t *testing.T) {
		target := base + "?q=needle&limit=3"
		r := get(t, srv.URL, target)
		first := decode[api.LogSearch](t, "GET "+target, r)
		all := wantMatches(files, 200, hasNeedle)
		if r.status != 200 || first.NextCursor == nil || !slices.Equal(first.Matches, all[:3]) {
			t.Fatalf("GET %s = %d %s; want the 3 newest matches and a cursor", target, r.status, r.body)
		}
		// The live log becomes backup 1, and so on; a new live log starts.
		for k := 2; k >= 1; k-- {
			if err := os.Rename(path+"."+strconv.Itoa(k), path+"."+strconv.Itoa(k+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("event 126 Needle\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rest, _ := searchFrom(t, srv.URL, target, *first.NextCursor)
		var want []api.LogMatch
		for _, m := range all[3:] {
			m.File++
			want = append(want, m)
		}
		if !slices.Equal(rest, want) {
			t.Errorf("after a rotation, the cursor of GET %s gave\n%v\nwant the older matches in their new files\n%v", target, rest, want)
		}
	})
	t.Run("answer shape", func(t *testing.T) {
		r := get(t, srv.URL, base+"?q=no+such+text")
		var raw map[string]json.RawMessage
		json.Unmarshal([]byte(r.body), &raw)
		if r.status != 200 || string(raw["matches"]) != "[]" || string(raw["next_cursor"]) != "null" || len(raw["scanned_bytes"]) == 0 {
			t.Errorf("GET %s?q=no+such+text = %d %s; want 200 with matches [], next_cursor null and scanned_bytes", base, r.status, r.body)
		}
	})
	for _, c := range []struct {
		query, want string
		status      int
	}{
		{"", "parameter q", 400},
		{"?q=", "parameter q", 400},
		{"?q=" + url.QueryEscape("a(b") + "&regex=1", "missing closing )", 400},
		{"?q=a&regex=yes", "regex", 400},
		{"?q=a&case=2", "case", 400},
		{"?q=a&limit=0", "limit", 400},
		{"?q=a&limit=1001", "limit", 400},
		{"?q=a&lines=0", "lines", 400},
		{"?q=a&cursor=garbage", "cursor", 400},
	} {
		t.Run("bad "+c.query, func(t *testing.T) {
			r := get(t, srv.URL, base+c.query)
			if r.status != c.status || !strings.Contains(decode[api.Error](t, "GET "+base+c.query, r).Error, c.want) {
				t.Errorf("GET %s%s = %d %s, want %d with an error naming %q", base, c.query, r.status, r.body, c.status, c.want)
			}
		})
	}
	t.Run("a cursor of another query", func(t *testing.T) {
		r := get(t, srv.URL, base+"?q=needle&limit=1")
		c := decode[api.LogSearch](t, "GET search", r).NextCursor
		if c == nil {
			t.Fatalf("GET %s?q=needle&limit=1 = %s, want a cursor", base, r.body)
		}
		target := base + "?q=event&cursor=" + url.QueryEscape(*c)
		if r := get(t, srv.URL, target); r.status != 400 {
			t.Errorf("GET %s = %d %s, want 400", target, r.status, r.body)
		}
	})
	t.Run("unknown program", func(t *testing.T) {
		if r := get(t, srv.URL, "/api/programs/nope/logs/search?q=a"); r.status != 404 {
			t.Errorf("GET /api/programs/nope/logs/search?q=a = %d %s, want 404", r.status, r.body)
		}
	})
}
