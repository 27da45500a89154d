package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// Search defaults and limits.
const (
	DefaultSearchLimit  = 100
	MaxSearchLimit      = 1000
	DefaultLinesPerPage = 200
	// DefaultSearchBudget bounds one Search call, after which it returns
	// what it found with a cursor to go on.
	DefaultSearchBudget = 2 * time.Second

	// searchBlockBytes is the read size of a search. Blocks that fit the
	// CPU's L2 cache keep bytes.Index and bytes.Count on one block fast;
	// 256 KiB measured faster than 64 KiB and 1 MiB.
	searchBlockBytes = 256 << 10
)

// Query is a search of a log and its backups, line by line.
type Query struct {
	// Text is a literal, or with Regex a regular expression (RE2 syntax)
	// matched against each line on its own.
	Text  string
	Regex bool
	// CaseSensitive off (the default) ignores case: of ASCII letters for a
	// literal of ASCII text, with Unicode simple folding otherwise.
	CaseSensitive bool
	// Limit is how many matches at most one call returns: 0 means
	// DefaultSearchLimit, and at most MaxSearchLimit.
	Limit int
	// LinesPerPage is the page size Match.Page refers to: 0 means
	// DefaultLinesPerPage.
	LinesPerPage int
}

// Match is one matching line.
type Match struct {
	// File is the file number: 0 the live log, 1..N the backups.
	File int
	// Line is the 1-based line number in File; Page is the page of
	// LinesPerPage lines that Reader.Page returns it on.
	Line, Page int
	// Text is the line as Reader.Page returns it.
	Text string
}

// Result is the answer of one Search call.
type Result struct {
	// Matches are newest first: the live log from its end, then backup 1
	// from its end, and so on.
	Matches []Match
	// ScannedBytes counts the bytes searched by this call.
	ScannedBytes int64
	// Cursor, when not empty, continues the search right after the last
	// match; it is empty when all files were searched.
	Cursor string
}

// Search searches the log at path and its backups for lines that match q,
// newest first, from the start or from after (a Result.Cursor of the same
// query). It returns after q.Limit matches, or once budget (0 means
// DefaultSearchBudget) has passed, with a cursor to go on.
//
// A line is searched as the viewer shows it: its first maxLineBytes, without
// its line ending. Rotation can split a line between the end of backup 1 and
// the start of the live log; the two parts are then searched, and numbered,
// as two lines, which is how Page shows them too.
//
// Each call opens all files once and holds them, so a rotation during the
// call neither skips nor repeats matches; the live log being cut under it
// makes the call start over, twice at most, and then fail with ErrRotated. A
// cursor finds its file by content, so it follows a backup that rotation
// renamed; if its bytes were dropped instead, the error is ErrRotated too.
// Bad input is ErrBadQuery or ErrBadCursor.
func (r *Reader) Search(ctx context.Context, path string, q Query, after string, budget time.Duration) (Result, error) {
	q, err := q.normalize()
	if err != nil {
		return Result{}, err
	}
	fd, err := newFinder(q.Text, q.Regex, q.CaseSensitive)
	if err != nil {
		return Result{}, err
	}
	key := queryKey(q.Text, q.Regex, q.CaseSensitive)
	var from *cursor
	if after != "" {
		c, err := decodeCursor(after)
		if err != nil {
			return Result{}, err
		}
		if c.query != key {
			return Result{}, fmt.Errorf("%w: it belongs to another query", ErrBadCursor)
		}
		from = &c
	}
	if budget <= 0 {
		budget = DefaultSearchBudget
	}
	s := &searcher{r: r, ctx: ctx, q: q, fd: fd, key: key, deadline: time.Now().Add(budget)}
	res, err := s.run(path, from)
	for try := 0; errors.Is(err, errChangedWhileReading); try++ {
		if try == 2 {
			err = fmt.Errorf("%w: %w", ErrRotated, err)
			break
		}
		s = &searcher{r: r, ctx: ctx, q: q, fd: fd, key: key, deadline: s.deadline}
		res, err = s.run(path, from)
	}
	if err != nil {
		return Result{}, fmt.Errorf("search logs %q: %w", path, err)
	}
	return res, nil
}

func (q Query) normalize() (Query, error) {
	if q.Limit == 0 {
		q.Limit = DefaultSearchLimit
	}
	if q.Limit < 1 || q.Limit > MaxSearchLimit {
		return q, fmt.Errorf("%w: limit %d is not between 1 and %d", ErrBadQuery, q.Limit, MaxSearchLimit)
	}
	if q.LinesPerPage == 0 {
		q.LinesPerPage = DefaultLinesPerPage
	}
	if q.LinesPerPage < 1 {
		return q, fmt.Errorf("%w: lines per page %d is not positive", ErrBadQuery, q.LinesPerPage)
	}
	return q, nil
}

// pageOf is the page of perPage lines, counted from the end as pageSpan
// does, that holds line n of total lines.
func pageOf(n, total, perPage int) int {
	return (total-n)/perPage + 1
}

// searcher is one Search call.
type searcher struct {
	r        *Reader
	ctx      context.Context
	q        Query
	fd       *finder
	key      uint64
	deadline time.Time

	buf    []byte
	starts []int
	count  int // matches found so far
	res    Result
}

// fileScan is the search of one file within one call. Bytes [end, top) are
// searched; end and top are line starts (or the file's end).
type fileScan struct {
	k         int
	sf        *searchFile
	top, end  int64
	nlTop     int64 // newlines before top, -1 while unknown
	nlScanned int64 // newlines in [end, top)
	found     []found
}

// found is a match whose line number waits for the newlines before top.
type found struct {
	nlAfter int64 // newlines in [line start, top)
	text    string
}

func (s *searcher) run(path string, from *cursor) (Result, error) {
	files, err := openSearchFiles(path)
	if err != nil {
		return Result{}, err
	}
	defer closeSearchFiles(files)
	s.buf = make([]byte, searchBlockBytes)

	k, top, nlTop := 0, int64(-1), int64(-1)
	if from != nil {
		if k, err = locateCursor(files, from); err != nil {
			return Result{}, err
		}
		top, nlTop = from.end, from.nlBefore
	}
	liveScanned := false
	for ; k < len(files); k++ {
		sf := files[k]
		if sf == nil {
			continue
		}
		if top < 0 {
			top = sf.size
		}
		fs := &fileScan{k: k, sf: sf, top: top, end: top, nlTop: nlTop}
		top, nlTop = -1, -1
		liveScanned = liveScanned || k == 0
		done, err := s.scanFile(fs)
		if err != nil {
			return Result{}, err
		}
		if err := s.resolve(fs); err != nil {
			return Result{}, err
		}
		if !done {
			if s.res.Cursor, err = s.cursorAt(fs); err != nil {
				return Result{}, err
			}
			break
		}
	}
	if liveScanned && files[0] != nil {
		if err := files[0].checkUnchanged(); err != nil {
			return Result{}, err
		}
	}
	return s.res, nil
}

// scanFile searches fs from its end down; done is false when it stopped
// early, at the limit or the deadline.
func (s *searcher) scanFile(fs *fileScan) (done bool, err error) {
	for fs.end > 0 {
		if s.count >= s.q.Limit || (s.res.ScannedBytes > 0 && time.Now().After(s.deadline)) {
			return false, nil
		}
		if err := s.ctx.Err(); err != nil {
			return false, err
		}
		lo := max(0, fs.end-searchBlockBytes)
		buf := s.buf[:fs.end-lo]
		if err := fs.sf.readAt(buf, lo); err != nil {
			return false, err
		}
		start := lo
		if lo > 0 {
			// The block starts after the first '\n': the bytes before it
			// belong to a line that the next block holds whole.
			i := bytes.IndexByte(buf, '\n')
			if i < 0 || lo+int64(i)+1 == fs.end {
				if err := s.longLine(fs, lo); err != nil {
					return false, err
				}
				continue
			}
			start = lo + int64(i) + 1
		}
		s.block(fs, buf[start-lo:], start)
	}
	return true, nil
}

// block searches the whole lines in block, which starts at offset base and
// ends at fs.end, and keeps the matches from the last one up.
func (s *searcher) block(fs *fileScan, block []byte, base int64) {
	s.starts = s.fd.lines(block, s.starts[:0])
	hi, nl := len(block), int64(0) // nl counts the newlines in block[hi:]
	for i := len(s.starts) - 1; i >= 0; i-- {
		if s.count >= s.q.Limit {
			// Stop right above the last match kept.
			fs.nlScanned += nl
			fs.end = base + int64(hi)
			s.res.ScannedBytes += int64(len(block) - hi)
			return
		}
		start := s.starts[i]
		nl += int64(bytes.Count(block[start:hi], []byte{'\n'}))
		hi = start
		line := block[start:]
		newline := false
		if e := bytes.IndexByte(line, '\n'); e >= 0 {
			line, newline = line[:e], true
		}
		fs.found = append(fs.found, found{nlAfter: fs.nlScanned + nl, text: trimLine(line, newline, len(line) > maxLineBytes)})
		s.count++
	}
	fs.nlScanned += nl + int64(bytes.Count(block[:hi], []byte{'\n'}))
	fs.end = base
	s.res.ScannedBytes += int64(len(block))
}

// longLine searches the line that ends at fs.end and is too long for one
// block: it finds the line's start, then looks at what the viewer shows.
func (s *searcher) longLine(fs *fileScan, lo int64) error {
	start := int64(0)
	for at := lo; at > 0; {
		from := max(0, at-searchBlockBytes)
		buf := s.buf[:at-from]
		if err := fs.sf.readAt(buf, from); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			start = from + int64(i) + 1
			break
		}
		at = from
	}
	newline := fs.end < fs.sf.size || !fs.sf.partial
	length := fs.end - start
	if newline {
		length--
	}
	head := s.buf[:min(length, maxLineBytes+1)]
	if err := fs.sf.readAt(head, start); err != nil {
		return err
	}
	nl := int64(0)
	if newline {
		nl = 1
	}
	if s.fd.match(viewOf(head, newline)) {
		fs.found = append(fs.found, found{nlAfter: fs.nlScanned + nl, text: trimLine(head, newline, length > maxLineBytes)})
		s.count++
	}
	fs.nlScanned += nl
	s.res.ScannedBytes += fs.end - start
	fs.end = start
	return nil
}

// resolve numbers the matches found in fs and adds them to the result.
func (s *searcher) resolve(fs *fileScan) error {
	if fs.end == 0 {
		if fs.nlTop >= 0 && fs.nlTop != fs.nlScanned {
			return fmt.Errorf("file %d has other lines than when the cursor was made: %w", fs.k, ErrRotated)
		}
		fs.nlTop = fs.nlScanned
	}
	if len(fs.found) == 0 {
		return nil
	}
	if fs.nlTop < 0 {
		n, err := s.r.newlinesBefore(fs.sf, fs.end)
		if err != nil {
			return err
		}
		fs.nlTop = n + fs.nlScanned
	}
	total := fs.nlTop
	if fs.top != fs.sf.size {
		n, err := s.r.newlinesBefore(fs.sf, fs.sf.size)
		if err != nil {
			return err
		}
		total = n
	}
	if fs.sf.partial {
		total++
	}
	for _, f := range fs.found {
		line := int(fs.nlTop - f.nlAfter + 1)
		s.res.Matches = append(s.res.Matches, Match{
			File: fs.k,
			Line: line,
			Page: pageOf(line, int(total), s.q.LinesPerPage),
			Text: f.text,
		})
	}
	return nil
}

// cursorAt is the cursor that goes on where fs stopped: below fs.end, or at
// the top of the next file when fs was searched to its start.
func (s *searcher) cursorAt(fs *fileScan) (string, error) {
	c := cursor{file: fs.k, end: fs.end, nlBefore: -1, query: s.key}
	if fs.nlTop >= 0 {
		c.nlBefore = fs.nlTop - fs.nlScanned
	}
	var err error
	if c.head, c.tail, err = fingerprints(fs.sf.f, c.end); err != nil {
		return "", err
	}
	return c.encode(), nil
}
