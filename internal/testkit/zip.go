package testkit

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// ZipEntry is one entry of a test ZIP.
type ZipEntry struct {
	Name, Body string
	// Mode is the entry's file mode. 0 records none, as some tools write
	// ZIPs: a regular file, or a directory if Name ends with "/".
	Mode fs.FileMode
}

// Zip returns a ZIP of entries in order, written by archive/zip as a real
// tool would: files deflated, directories stored.
func Zip(t testing.TB, entries ...ZipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		if strings.HasSuffix(e.Name, "/") {
			h.Method = zip.Store
		}
		if e.Mode != 0 {
			h.SetMode(e.Mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("zip entry %q: %v", e.Name, err)
		}
		if e.Body == "" {
			continue // zip.Writer refuses writes (even empty ones) to directory entries
		}
		if _, err := w.Write([]byte(e.Body)); err != nil {
			t.Fatalf("zip entry %q: %v", e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("zip: %v", err)
	}
	return buf.Bytes()
}
