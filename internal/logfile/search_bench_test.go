package logfile

import (
	"bufio"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

var searchBenchBytes = flag.Int64("search-bench-bytes", 1<<30, "total size of the logs BenchmarkSearchVsGrep searches")

// BenchmarkSearchVsGrep writes -search-bench-bytes (1 GiB) of ~100-byte
// numbered lines into a live log and three backups, then times Search to the
// end of all of them against grep -c on the same files in the same run, and
// reports the ratios (best of 3 each; the files are in the page cache).
// Run with:
//
//	go test -run '^$' -bench SearchVsGrep -benchtime 1x ./internal/logfile/
func BenchmarkSearchVsGrep(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 1 GiB")
	}
	if _, err := exec.LookPath("grep"); err != nil {
		b.Skip("no grep to compare with")
	}
	path := b.TempDir() + "/app.log"
	names := make([]string, 4)
	next := 0
	for k := 3; k >= 0; k-- { // oldest first, so numbers rise to the live log
		names[k] = FilePath(path, k)
		next = writeNumberedLog(b, names[k], next, *searchBenchBytes/4)
	}
	cases := []struct {
		name string
		q    Query
		grep []string
	}{
		{"literal", Query{Text: "job 77777", CaseSensitive: true}, []string{"-F", "-c", "job 77777"}},
		{"literal ignoring case", Query{Text: "JOB 77777"}, []string{"-F", "-i", "-c", "JOB 77777"}},
		{"regex with a literal", Query{Text: `job 77777[0-9]* in`, Regex: true, CaseSensitive: true},
			[]string{"-E", "-c", "job 77777[0-9]* in"}},
	}
	for _, c := range cases {
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				var search, grep time.Duration
				var matches, grepped int
				for i := range 3 {
					d, n := timeSearch(b, path, c.q)
					g, gn := timeGrep(b, append(c.grep, names...))
					if i == 0 || d < search {
						search = d
					}
					if i == 0 || g < grep {
						grep = g
					}
					matches, grepped = n, gn
				}
				if matches != grepped || matches == 0 {
					b.Fatalf("Search found %d matches, grep %d", matches, grepped)
				}
				b.ReportMetric(float64(search.Milliseconds()), "search-ms")
				b.ReportMetric(float64(grep.Milliseconds()), "grep-ms")
				b.ReportMetric(float64(search)/float64(grep), "x-grep")
				b.ReportMetric(float64(*searchBenchBytes)/search.Seconds()/(1<<30), "GiB/s")
			}
		})
	}
}

// timeSearch searches to the end, following cursors, with a new Reader.
func timeSearch(b *testing.B, path string, q Query) (time.Duration, int) {
	q.Limit = MaxSearchLimit
	start := time.Now()
	r, n, cursor := NewReader(), 0, ""
	for {
		res, err := r.Search(b.Context(), path, q, cursor, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		n += len(res.Matches)
		if cursor = res.Cursor; cursor == "" {
			return time.Since(start), n
		}
	}
}

// timeGrep runs grep -c on several files and adds up its counts.
func timeGrep(b *testing.B, args []string) (time.Duration, int) {
	cmd := exec.Command("grep", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("grep %q: %v", args, err)
	}
	n := 0
	for _, line := range strings.Fields(string(out)) {
		_, count, _ := strings.Cut(line, ":")
		c, err := strconv.Atoi(count)
		if err != nil {
			b.Fatalf("grep output %q: %v", out, err)
		}
		n += c
	}
	return d, n
}

// writeNumberedLog writes lines numbered from first on, up to size bytes,
// and returns the next number.
func writeNumberedLog(b *testing.B, path string, first int, size int64) int {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	line := make([]byte, 0, 128)
	n := first
	for written := int64(0); written < size; n++ {
		line = append(line[:0], "2026-01-02 03:04:05,678 INFO worker.tasks: processed job "...)
		line = strconv.AppendInt(line, int64(n), 10)
		line = append(line, " in 12.5 ms, queue depth 17, status ok\n"...)
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return n
}
