package logfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Page is one page of a log file. Page 1 holds the newest lines (the tail);
// within a page the lines are in file order.
type Page struct {
	// Lines are the raw bytes of each line, which may be invalid UTF-8,
	// without '\n' (or the '\r' of "\r\n"), cut at 64 KiB with a marker.
	Lines []string
	// Page is the requested page number; Pages is how many there are, at
	// least 1 (an empty file has one empty page).
	Page, Pages int
	// FirstLine and LastLine are the 1-based numbers of Lines[0] and of the
	// last line; both are 0 for an empty page.
	FirstLine, LastLine int
	// TotalLines counts the last line even without its trailing '\n'.
	TotalLines int
	// SizeBytes is the file size the page was read at.
	SizeBytes int64
}

// pageSpan is the pure page arithmetic: which lines page p holds when pages
// of perPage lines are counted from the end of a file of total lines. first
// and last are 0 when the page is empty (an empty file, or p past the end or
// below 1); pages is at least 1. A perPage below 1 counts as 1. No input
// overflows: page numbers as large as the int type are a page past the end.
func pageSpan(total, p, perPage int) (first, last, pages int) {
	total, perPage = max(total, 0), max(perPage, 1)
	pages = total / perPage
	if total%perPage != 0 {
		pages++
	}
	pages = max(pages, 1)
	if p < 1 || p > pages {
		return 0, 0, pages
	}
	// p <= pages, so (p-1)*perPage < total: no overflow.
	last = total - (p-1)*perPage
	if last < 1 {
		return 0, 0, pages
	}
	return max(1, last-perPage+1), last, pages
}

// Reader reads pages of log files. It keeps one sparse line index per path so
// that a page of a huge file costs a few small reads after the first request;
// it is safe for concurrent use and meant to be shared by all requests.
type Reader struct {
	k  int // lines between index marks
	mu sync.Mutex
	// indexes is guarded by mu. Each entry has its own lock so that a long
	// first scan of one file does not hold up pages of the others.
	indexes map[string]*indexEntry
}

type indexEntry struct {
	mu sync.Mutex
	ix *index // guarded by mu
}

// NewReader returns a Reader with no index built yet.
func NewReader() *Reader {
	return newReader(defaultMarkEvery)
}

func newReader(k int) *Reader {
	return &Reader{k: k, indexes: make(map[string]*indexEntry)}
}

// Forget drops the index of path, for a program that was removed.
func (r *Reader) Forget(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.indexes, path)
}

// Page returns page number page (1 is the newest) of path split into pages
// of lines lines. A page past the end comes back with its number, no lines,
// and the right Pages and TotalLines. A missing file is an empty page.
func (r *Reader) Page(path string, page, lines int) (Page, error) {
	if page < 1 || lines < 1 {
		return Page{}, fmt.Errorf("read page %d of %d lines of %q: page and lines must be at least 1", page, lines, path)
	}
	p, err := r.pageRetry(path, page, lines)
	if err != nil {
		return Page{}, fmt.Errorf("read page %d of %q: %w", page, path, err)
	}
	return p, nil
}

// errChangedWhileReading means the file was rotated between indexing and
// reading the lines; one more try sees the new state.
var errChangedWhileReading = errors.New("file changed while reading")

func (r *Reader) pageRetry(path string, page, perPage int) (Page, error) {
	p, err := r.page(path, page, perPage)
	if errors.Is(err, errChangedWhileReading) {
		p, err = r.page(path, page, perPage)
	}
	return p, err
}

func (r *Reader) page(path string, page, perPage int) (Page, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		r.Forget(path)
		return Page{Page: page, Pages: 1}, nil
	}
	if err != nil {
		return Page{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Page{}, err
	}

	e := r.entry(path)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ix.update(f, fi); err != nil {
		return Page{}, err
	}
	first, last, pages := pageSpan(e.ix.totalLines(), page, perPage)
	p := Page{
		Page:       page,
		Pages:      pages,
		FirstLine:  first,
		LastLine:   last,
		TotalLines: e.ix.totalLines(),
		SizeBytes:  e.ix.scanned,
	}
	if first == 0 {
		return p, nil
	}
	off, skip := e.ix.locate(first)
	// Bounded by the scanned size: bytes appended since are not counted.
	sr := io.NewSectionReader(f, off, e.ix.scanned-off)
	if p.Lines, err = readLines(sr, skip, last-first+1); err != nil {
		return Page{}, err
	}
	if len(p.Lines) != last-first+1 {
		return Page{}, fmt.Errorf("found %d of lines %d-%d: %w", len(p.Lines), first, last, errChangedWhileReading)
	}
	return p, nil
}

func (r *Reader) entry(path string) *indexEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.indexes[path]
	if !ok {
		e = &indexEntry{ix: newIndex(r.k)}
		r.indexes[path] = e
	}
	return e
}

// readLines skips skip lines of rd, then returns up to n lines; the last may
// lack its '\n'. A line longer than maxLineBytes is cut, and the rest of it
// is read past without being kept.
func readLines(rd io.Reader, skip, n int) ([]string, error) {
	br := bufio.NewReaderSize(rd, maxLineBytes)
	for skip > 0 {
		_, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			skip--
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil, nil
		default:
			return nil, err
		}
	}
	out := make([]string, 0, n)
	for len(out) < n {
		line, ok, err := readLine(br)
		if ok {
			out = append(out, line)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readLine reads one line from br, keeping at most maxLineBytes of it. ok is
// false at the end of the input; a final line without '\n' comes with ok
// and io.EOF.
func readLine(br *bufio.Reader) (line string, ok bool, err error) {
	var kept []byte
	truncated := false
	for {
		frag, err := br.ReadSlice('\n')
		newline := err == nil
		if newline {
			frag = frag[:len(frag)-1]
		}
		if room := maxLineBytes - len(kept); len(frag) > room {
			frag, truncated = frag[:room], true
		}
		kept = append(kept, frag...)
		switch {
		case newline:
			return trimLine(kept, true, truncated), true, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if len(kept) == 0 {
				return "", false, io.EOF
			}
			return trimLine(kept, false, truncated), true, io.EOF
		default:
			return "", false, err
		}
	}
}
