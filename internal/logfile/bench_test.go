package logfile

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkLargeLog builds a ~1 GB log of ~100-byte lines once and measures
// pages of it:
//
//	Page1Warm       page 1 (the tail) with the index already built
//	PageMiddleWarm  a page in the middle with the index already built
//	Cold            the first request of a new Reader: one full scan
//
// The file was just written, so "cold" means a cold index over a warm page
// cache. Run with: go test -run '^$' -bench LargeLog -benchtime 1x ./internal/logfile/
func BenchmarkLargeLog(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1 GB file")
	}
	path := filepath.Join(b.TempDir(), "big.log")
	lines := writeBigLog(b, path, 1<<30)
	b.Logf("%s: %d lines", path, lines)

	warm := NewReader()
	if _, err := warm.Page(path, 1, 100); err != nil {
		b.Fatal(err)
	}
	pageAt := func(b *testing.B, r *Reader, page int) {
		p, err := r.Page(path, page, 100)
		if err != nil || len(p.Lines) != 100 || p.TotalLines != lines {
			b.Fatalf("Page(%d, 100) = %d lines of %d, %v; want 100 of %d", page, len(p.Lines), p.TotalLines, err, lines)
		}
	}
	b.Run("Page1Warm", func(b *testing.B) {
		for b.Loop() {
			pageAt(b, warm, 1)
		}
	})
	b.Run("PageMiddleWarm", func(b *testing.B) {
		for b.Loop() {
			pageAt(b, warm, lines/200)
		}
	})
	b.Run("Cold", func(b *testing.B) {
		for b.Loop() {
			pageAt(b, NewReader(), 1)
		}
	})
}

// writeBigLog writes lines of ~100 bytes up to size bytes and returns how
// many lines it wrote.
func writeBigLog(b *testing.B, path string, size int64) int {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	line := make([]byte, 0, 128)
	var written int64
	n := 0
	for written < size {
		line = append(line[:0], "2026-01-02 03:04:05,678 INFO worker.tasks: processed job "...)
		line = strconv.AppendInt(line, int64(n), 10)
		line = append(line, " in 12.5 ms, queue depth 17, status ok\n"...)
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		written += int64(len(line))
		n++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return n
}
