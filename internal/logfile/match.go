package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// ErrBadQuery means a search query cannot be run: empty text, an invalid
// regular expression (the error carries the parser's message) or a limit out
// of range. It is the caller's mistake, not the server's.
var ErrBadQuery = errors.New("bad search query")

// finder finds the lines of a block that match a query. A line is matched as
// the viewer shows it: without its line ending and cut at maxLineBytes.
type finder struct {
	// lit is a literal every matching line contains (lowered when fold); it
	// finds candidates fast, and is the whole query unless re is set.
	lit  []byte
	fold bool // lit is compared ignoring ASCII case
	// rare is the offset in lit of the byte a folding scan looks for: the
	// rarest one in logs, by a rough guess, so that few places need a look.
	rare int
	re   *regexp.Regexp // when set, a candidate line matches only if re does
	// blockRe, for a regexp without a literal, finds candidates in a whole
	// block at once; with neither lit nor blockRe every line is tried.
	blockRe *regexp.Regexp
}

// newFinder compiles the query text. Without regex, text is a literal.
func newFinder(text string, regex, caseSensitive bool) (*finder, error) {
	if text == "" {
		return nil, fmt.Errorf("%w: empty query", ErrBadQuery)
	}
	if !regex {
		if strings.ContainsAny(text, "\n") {
			return nil, fmt.Errorf("%w: a query cannot span lines", ErrBadQuery)
		}
		switch {
		case caseSensitive:
			return &finder{lit: []byte(text)}, nil
		case isASCII(text):
			return literalFinder([]byte(strings.ToLower(text)), true), nil
		}
		// Unicode case folding is the regexp package's job.
		text, regex = regexp.QuoteMeta(text), true
	}
	pattern := text
	if !caseSensitive {
		pattern = "(?i)" + text
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	if lit, fold := requiredLiteral(tree.Simplify()); len(lit) > 0 && (!fold || isASCII(lit)) {
		f := &finder{lit: []byte(lit)}
		if fold {
			f = literalFinder([]byte(strings.ToLower(lit)), true)
		}
		f.re = re
		return f, nil
	}
	f := &finder{re: re}
	// In a block, ^ and $ must mean line starts and ends; \A, \z and $ (which
	// would not match before the '\r' of a CRLF) leave every line to re.
	multi := "(?m)" + pattern
	mtree, err := syntax.Parse(multi, syntax.Perl)
	if err == nil && !hasOp(mtree, syntax.OpBeginText, syntax.OpEndText, syntax.OpEndLine) {
		f.blockRe = regexp.MustCompile(multi)
	}
	return f, nil
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// literalFinder picks the byte of lit that a scan looks for.
func literalFinder(lit []byte, fold bool) *finder {
	f := &finder{lit: lit, fold: fold}
	best := -1
	for i, c := range lit {
		// A letter costs two scans (both cases) when folding: prefer others.
		r := rarity(c) * 2
		if fold && isLetter(c) {
			r--
		}
		if r > best {
			best, f.rare = r, i
		}
	}
	return f
}

// commonBytes are the bytes of log lines from most to least frequent, by a
// rough guess; a byte not listed is taken as rarer than all of them.
const commonBytes = " etaoinsr0123456789lcdumhpfgE.:-SITRAONLCDwybvk,_/=UPMHFGWYBVKx()[]\"'jqzXJQZ"

func rarity(c byte) int {
	if i := strings.IndexByte(commonBytes, c); i >= 0 {
		return i
	}
	return len(commonBytes)
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// requiredLiteral returns the longest literal that every match of re
// contains, and whether it is to be compared ignoring case.
func requiredLiteral(re *syntax.Regexp) (lit string, fold bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), re.Flags&syntax.FoldCase != 0
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if l, f := requiredLiteral(sub); len(l) > len(lit) {
				lit, fold = l, f
			}
		}
	}
	return lit, fold
}

func hasOp(re *syntax.Regexp, ops ...syntax.Op) bool {
	for _, op := range ops {
		if re.Op == op {
			return true
		}
	}
	for _, sub := range re.Sub {
		if hasOp(sub, ops...) {
			return true
		}
	}
	return false
}

// lines appends to out the offsets in block of the starts of its matching
// lines, in ascending order. block holds whole lines; its last line lacks
// the '\n' only at the end of a file.
func (f *finder) lines(block []byte, out []int) []int {
	it := litScan{f: f, block: block, n1: -1, n2: -1}
	for pos := 0; pos < len(block); {
		h := pos
		switch {
		case f.lit != nil:
			h = it.next(pos)
		case f.blockRe != nil:
			if loc := f.blockRe.FindIndex(block[pos:]); loc != nil {
				h = pos + loc[0]
			} else {
				h = -1
			}
		}
		if h < 0 {
			break
		}
		start := pos + bytes.LastIndexByte(block[pos:h], '\n') + 1
		end := bytes.IndexByte(block[h:], '\n')
		newline := end >= 0
		if newline {
			end += h
		} else {
			end = len(block)
		}
		if f.match(viewOf(block[start:end], newline)) {
			out = append(out, start)
		}
		pos = end + 1
	}
	return out
}

// match reports whether one line, as the viewer shows it, matches.
func (f *finder) match(view []byte) bool {
	if f.re != nil {
		return f.re.Match(view)
	}
	if !f.fold {
		return bytes.Contains(view, f.lit)
	}
	for i := 0; i+len(f.lit) <= len(view); i++ {
		if equalFoldASCII(view[i:i+len(f.lit)], f.lit) {
			return true
		}
	}
	return false
}

// viewOf is the part of a line (without its '\n') that trimLine keeps.
func viewOf(line []byte, newline bool) []byte {
	if len(line) > maxLineBytes {
		return line[:maxLineBytes]
	}
	if newline && len(line) > 0 && line[len(line)-1] == '\r' {
		return line[:len(line)-1]
	}
	return line
}

// equalFoldASCII compares b with lower, which is in lower case.
func equalFoldASCII(b, lower []byte) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// litScan finds the candidate places of a finder's literal in one block.
type litScan struct {
	f     *finder
	block []byte
	// n1 and n2 cache the next place of the rare byte in lower and upper
	// case, so that a frequent one does not make the other be searched for
	// again and again; -1 means not searched yet, len(block) none left.
	n1, n2 int
}

// next returns the offset of the first place at or after pos where the
// literal occurs, or -1.
func (s *litScan) next(pos int) int {
	f, b := s.f, s.block
	if !f.fold {
		i := bytes.Index(b[pos:], f.lit)
		if i < 0 {
			return -1
		}
		return pos + i
	}
	c1, c2 := f.lit[f.rare], f.lit[f.rare]
	if isLetter(c1) {
		c2 = c1 - ('a' - 'A')
	}
	for {
		from := pos + f.rare
		if s.n1 < from {
			s.n1 = indexByteFrom(b, c1, from)
		}
		if c2 == c1 {
			s.n2 = s.n1
		} else if s.n2 < from {
			s.n2 = indexByteFrom(b, c2, from)
		}
		h := min(s.n1, s.n2)
		if h >= len(b) {
			return -1
		}
		start := h - f.rare
		if start+len(f.lit) <= len(b) && equalFoldASCII(b[start:start+len(f.lit)], f.lit) {
			return start
		}
		pos = start + 1
	}
}

// indexByteFrom is the offset of the first c in b at or after from, or
// len(b).
func indexByteFrom(b []byte, c byte, from int) int {
	if from >= len(b) {
		return len(b)
	}
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}
