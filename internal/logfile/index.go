package logfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

const (
	// defaultMarkEvery is K: the index keeps the offset of every Kth line
	// start. 1024 lines of ~100 bytes are ~100 KiB to skip at most when
	// locating a line, and the index of a 1 GB log stays near 80 KiB.
	defaultMarkEvery = 1024

	// scanBufBytes is the read size of an index scan; big reads and
	// bytes.Count keep a cold scan of a huge file near disk/cache speed.
	scanBufBytes = 1 << 20
)

// index is a sparse line index of one file, brought up to date by reading
// only the bytes appended since the previous update.
type index struct {
	k     int     // a mark every k lines
	marks []int64 // marks[i] is the offset where line i*k (0-based) starts
	lines int     // complete ('\n'-terminated) lines in [0, lastNL)
	// lastNL is the offset just past the last '\n' seen; scanned is how far
	// the file was read (bytes in [lastNL, scanned) hold no '\n').
	lastNL, scanned int64
	info            os.FileInfo // of the scanned file, for os.SameFile
	head, tail      []byte      // fingerprints: file start, bytes before scanned
}

func newIndex(k int) *index {
	return &index{k: k, marks: []int64{0}}
}

// totalLines counts the last line even without its '\n'.
func (ix *index) totalLines() int {
	if ix.scanned > ix.lastNL {
		return ix.lines + 1
	}
	return ix.lines
}

// update brings the index up to the size of f given in fi. The index is
// rebuilt from scratch when f is another file than last time, or when it was
// rotated: it shrank, or the bytes remembered at its start or before the
// scanned position changed (a rotation followed by enough new writes to grow
// past the old size). A log that repeats the very same bytes at both places
// could hide a rotation; the line numbers would then be off until the next.
func (ix *index) update(f *os.File, fi os.FileInfo) error {
	size := fi.Size()
	if ix.info == nil || !os.SameFile(ix.info, fi) || size < ix.scanned || !ix.fingerprintsMatch(f) {
		*ix = *newIndex(ix.k)
	}
	ix.info = fi
	if size == ix.scanned {
		return nil
	}
	if err := ix.scan(f, size); err != nil {
		*ix = *newIndex(ix.k) // half a scan has no fingerprints to trust
		return fmt.Errorf("index %s: %w", f.Name(), err)
	}
	return ix.takeFingerprints(f)
}

func (ix *index) fingerprintsMatch(f *os.File) bool {
	if ix.scanned == 0 {
		return true
	}
	buf := make([]byte, fingerprintBytes)
	for _, fp := range []struct {
		want []byte
		off  int64
	}{{ix.head, 0}, {ix.tail, ix.scanned - int64(len(ix.tail))}} {
		got := buf[:len(fp.want)]
		if _, err := f.ReadAt(got, fp.off); err != nil || !bytes.Equal(got, fp.want) {
			return false
		}
	}
	return true
}

func (ix *index) takeFingerprints(f *os.File) error {
	n := min(int64(fingerprintBytes), ix.scanned)
	ix.head = make([]byte, n)
	ix.tail = make([]byte, n)
	if _, err := f.ReadAt(ix.head, 0); err != nil {
		return fmt.Errorf("read fingerprint of %s: %w", f.Name(), err)
	}
	if _, err := f.ReadAt(ix.tail, ix.scanned-n); err != nil {
		return fmt.Errorf("read fingerprint of %s: %w", f.Name(), err)
	}
	return nil
}

// scan reads [scanned, size) and records the newlines in it.
func (ix *index) scan(f *os.File, size int64) error {
	buf := make([]byte, min(scanBufBytes, size-ix.scanned))
	for ix.scanned < size {
		chunk := buf[:min(int64(len(buf)), size-ix.scanned)]
		n, err := f.ReadAt(chunk, ix.scanned)
		if n < len(chunk) {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("shrank at offset %d: %w", ix.scanned+int64(n), errChangedWhileReading)
			}
			return err
		}
		ix.addChunk(chunk, ix.scanned)
		ix.scanned += int64(n)
	}
	return nil
}

// addChunk records the newlines of chunk, which starts at offset base. They
// are counted with bytes.Count; only up to the last mark within the chunk
// are they walked one by one with bytes.IndexByte, to find the marks.
func (ix *index) addChunk(chunk []byte, base int64) {
	c := bytes.Count(chunk, []byte{'\n'})
	pos := 0
	for c > 0 {
		toMark := ix.k - ix.lines%ix.k // newlines until the next mark
		if c < toMark {
			ix.lines += c
			ix.lastNL = base + int64(bytes.LastIndexByte(chunk, '\n')+1)
			return
		}
		for range toMark {
			pos += bytes.IndexByte(chunk[pos:], '\n') + 1
		}
		ix.lines += toMark
		c -= toMark
		ix.lastNL = base + int64(pos)
		ix.marks = append(ix.marks, ix.lastNL)
	}
}

// locate returns where to start reading to reach 1-based line n: the offset
// of the nearest mark at or before it and how many lines to skip from there.
func (ix *index) locate(n int) (off int64, skip int) {
	m := (n - 1) / ix.k
	return ix.marks[m], (n - 1) - m*ix.k
}
