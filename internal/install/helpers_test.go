package install

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// zfile is one entry of a test ZIP.
type zfile struct {
	name string
	body string
	// mode is the entry's file mode; 0 means a regular 0644 file (a directory if name ends with "/").
	mode fs.FileMode
}

// makeZip returns a ZIP of files, written by archive/zip as a real tool would (deflated, Unix modes).
func makeZip(t testing.TB, files ...zfile) []byte {
	t.Helper()
	entries := make([]testkit.ZipEntry, len(files))
	for i, f := range files {
		entries[i] = testkit.ZipEntry{Name: f.name, Body: f.body, Mode: f.mode}
	}
	return testkit.Zip(t, entries...)
}

// rawEntry is an entry written with zip.Writer.CreateRaw: the header says whatever the test wants, and data
// is stored as given (already compressed when method is Deflate).
type rawEntry struct {
	hdr  zip.FileHeader
	data []byte
}

// makeRawZip returns a ZIP of entries whose headers may lie.
func makeRawZip(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.CompressedSize64 = uint64(len(e.data))
		w, err := zw.CreateRaw(&h)
		if err != nil {
			t.Fatalf("zip CreateRaw(%q): %v", h.Name, err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatalf("zip write %q: %v", h.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("zip Close: %v", err)
	}
	return buf.Bytes()
}

// storedEntry is a raw entry holding body uncompressed, with an honest header unless the caller changes it.
func storedEntry(name, body string) rawEntry {
	return rawEntry{
		hdr: zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(body)),
			UncompressedSize64: uint64(len(body))},
		data: []byte(body),
	}
}

// deflated returns body compressed as a ZIP entry's data.
func deflated(t testing.TB, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zeroDeflate returns a raw deflate stream that inflates to 1+258*k zero bytes, and that length. It is written
// by hand as one block with the fixed Huffman code (a literal 0, then k copies of "258 bytes from distance
// 1"), which takes 13 bits per 258 bytes: a 600 MB bomb costs 3.8 MB and no compression time.
func zeroDeflate(k int) ([]byte, uint64) {
	var bw bitWriter
	bw.bits(1, 1)    // BFINAL
	bw.bits(1, 2)    // BTYPE 01: fixed Huffman codes
	bw.code(0x30, 8) // literal 0
	for range k {
		bw.code(0xc5, 8) // length code 285: 258 bytes
		bw.code(0, 5)    // distance code 0: distance 1
	}
	bw.code(0, 7) // end of block (256)
	bw.flush()
	return bw.buf, 1 + 258*uint64(k)
}

// bitWriter writes a deflate bit stream: values least significant bit first, Huffman codes most significant
// bit first.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (b *bitWriter) bits(v uint64, n uint) {
	b.acc |= v << b.n
	b.n += n
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

func (b *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (c>>i)&1
	}
	b.bits(r, n)
}

func (b *bitWriter) flush() {
	if b.n > 0 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc, b.n = 0, 0
	}
}

// zipBomb returns a ZIP with one deflated entry "bomb.bin" holding data, a stream from zeroDeflate that
// inflates to size bytes, whose header declares declared bytes (0 means the truth). The CRC is wrong, which no
// test reaches: the bomb must be stopped first.
func zipBomb(t testing.TB, data []byte, size, declared uint64) []byte {
	t.Helper()
	if declared == 0 {
		declared = size
	}
	return makeRawZip(t, rawEntry{
		hdr:  zip.FileHeader{Name: "bomb.bin", Method: zip.Deflate, UncompressedSize64: declared},
		data: data,
	})
}

// listTree returns every path under dir (slash paths, relative) with its mode type and, for files, content.
func listTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			got[rel] = "<dir>"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = string(b)
		default:
			got[rel] = "<" + d.Type().String() + ">"
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return got
}

// mustNotExist fails the test if path exists.
func mustNotExist(t testing.TB, path, why string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s: Lstat(%s) = %v, want it not to exist", why, path, err)
	}
}
