package logfile

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

var (
	// ErrBadCursor means a search cursor is not one Search handed out, or
	// was handed out for another query.
	ErrBadCursor = errors.New("bad search cursor")
	// ErrRotated means the logs were rotated in a way the search cannot go
	// on from: the bytes a cursor points into were dropped or cut, or the
	// live log kept being cut while it was read. Going on could skip or
	// repeat matches, so the search has to start again.
	ErrRotated = errors.New("the logs were rotated during the search; search again")
)

// cursor says where a search goes on: in file number file, below offset end
// (a line start). It identifies that file's content by fingerprints rather
// than by its number, which rotation shifts.
type cursor struct {
	file int
	end  int64
	// nlBefore counts the newlines in [0, end), or is -1 when the search
	// stopped before it needed to know.
	nlBefore int64
	// head and tail hash the first bytes of the file and those just before
	// end: the bytes still to search must be these very bytes.
	head, tail uint64
	query      uint64 // queryKey of the search
}

const cursorVersion = 1

func (c cursor) encode() string {
	b := []byte{cursorVersion}
	b = binary.AppendUvarint(b, uint64(c.file))
	b = binary.AppendUvarint(b, uint64(c.end))
	b = binary.AppendVarint(b, c.nlBefore)
	b = binary.LittleEndian.AppendUint64(b, c.head)
	b = binary.LittleEndian.AppendUint64(b, c.tail)
	b = binary.LittleEndian.AppendUint64(b, c.query)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCursorFile bounds the file number of a cursor; nobody keeps that many
// backups, and a huge number would only make Search open files in vain.
const maxCursorFile = 1 << 16

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	if len(b) == 0 || b[0] != cursorVersion {
		return cursor{}, fmt.Errorf("%w: unknown version", ErrBadCursor)
	}
	b = b[1:]
	var c cursor
	file, n := binary.Uvarint(b)
	if n <= 0 || file > maxCursorFile {
		return cursor{}, fmt.Errorf("%w: bad file number", ErrBadCursor)
	}
	b = b[n:]
	end, n := binary.Uvarint(b)
	if n <= 0 || end == 0 || end > 1<<62 {
		return cursor{}, fmt.Errorf("%w: bad offset", ErrBadCursor)
	}
	b = b[n:]
	nl, n := binary.Varint(b)
	if n <= 0 || nl < -1 || nl > int64(end) {
		return cursor{}, fmt.Errorf("%w: bad line count", ErrBadCursor)
	}
	b = b[n:]
	if len(b) != 24 {
		return cursor{}, fmt.Errorf("%w: bad length", ErrBadCursor)
	}
	c.file, c.end, c.nlBefore = int(file), int64(end), nl
	c.head = binary.LittleEndian.Uint64(b)
	c.tail = binary.LittleEndian.Uint64(b[8:])
	c.query = binary.LittleEndian.Uint64(b[16:])
	return c, nil
}

// queryKey tells the queries apart that find different lines.
func queryKey(text string, regex, caseSensitive bool) uint64 {
	h := fnv.New64a()
	h.Write([]byte{boolByte(regex), boolByte(caseSensitive)})
	io.WriteString(h, text)
	return h.Sum64()
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// fingerprints hashes the first fingerprintBytes of f (at most end of them)
// and the fingerprintBytes before end. Rotation replaces the bytes at both
// places, while appending to the live log touches neither.
func fingerprints(f *os.File, end int64) (head, tail uint64, err error) {
	n := min(int64(fingerprintBytes), end)
	buf := make([]byte, n)
	hash := func(off int64) (uint64, error) {
		if _, err := f.ReadAt(buf, off); err != nil {
			if errors.Is(err, io.EOF) {
				err = errChangedWhileReading
			}
			return 0, fmt.Errorf("read fingerprint of %s: %w", f.Name(), err)
		}
		h := fnv.New64a()
		h.Write(buf)
		return h.Sum64(), nil
	}
	if head, err = hash(0); err != nil {
		return 0, 0, err
	}
	if tail, err = hash(end - n); err != nil {
		return 0, 0, err
	}
	return head, tail, nil
}
