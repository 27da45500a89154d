package install

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The limits of the fuzz target keep each run small: the properties do not depend on the sizes.
const fuzzMaxEntries, fuzzMaxBytes = 64, 1 << 20

// seedZips returns one ZIP for each kind of input the extractor must handle, good and bad.
func seedZips(t testing.TB) [][]byte {
	flat := makeZip(t, zfile{name: "main.py", body: "print(1)\n"}, zfile{name: "lib/u.py", body: "u"},
		zfile{name: "run.sh", body: "#!/bin/sh\n", mode: 0o755})
	lying := storedEntry("small.txt", "0123456789")
	lying.hdr.UncompressedSize64 = 4
	bomb, size := zeroDeflate(4 << 20 / 258) // 4 MiB of zeros, over fuzzMaxBytes
	return [][]byte{
		flat,
		makeZip(t, zfile{name: "proj/"}, zfile{name: "proj/main.py", body: "m"}, zfile{name: "proj/pkg/a.py", body: "a"}),
		makeZip(t, zfile{name: "a/x.py", body: "x"}, zfile{name: "b/y.py", body: "y"}),
		makeZip(t, zfile{name: "proj/main.py", body: "m"}, zfile{name: "__MACOSX/proj/._main.py", body: "j"}),
		makeZip(t),
		makeZip(t, zfile{name: "../evil.py", body: "x"}),
		makeZip(t, zfile{name: "/etc/evil", body: "x"}),
		makeZip(t, zfile{name: `a\..\..\evil.py`, body: "x"}),
		makeZip(t, zfile{name: "C:/evil.py", body: "x"}),
		makeZip(t, zfile{name: "a\x00b", body: "x"}),
		makeZip(t, zfile{name: "link", body: "../../..", mode: fs.ModeSymlink | 0o777}, zfile{name: "link/x.py", body: "x"}),
		makeZip(t, zfile{name: "dev", mode: fs.ModeDevice | 0o600}),
		makeZip(t, zfile{name: "fifo", mode: fs.ModeNamedPipe | 0o600}),
		makeZip(t, zfile{name: "a", body: "1"}, zfile{name: "a/b", body: "2"}, zfile{name: "a", body: "3"}),
		makeRawZip(t, lying),
		zipBomb(t, bomb, size, 0),
		zipBomb(t, bomb, size, 1000),
		flat[:len(flat)/2],
		flat[:len(flat)-3],
		[]byte("not a zip at all"),
	}
}

// FuzzExtract feeds arbitrary bytes to Extract. Whatever the input: no panic, nothing written outside dest (a
// sibling canary directory stays as it was), and either a *BadArchiveError with dest gone or success with
// dest holding only directories and the regular files Extract reported, within the size limit.
func FuzzExtract(f *testing.F) {
	for _, z := range seedZips(f) {
		f.Add(z)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		canary := filepath.Join(parent, "canary")
		if err := os.Mkdir(canary, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(canary, "keep"), []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(parent, "dest")

		files, err := Extract(bytes.NewReader(data), int64(len(data)), dest,
			Limits{MaxEntries: fuzzMaxEntries, MaxUncompressed: fuzzMaxBytes})

		var written []string
		var total int64
		walkErr := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(parent, p)
			rel = filepath.ToSlash(rel)
			inDest, ok := strings.CutPrefix(rel, "dest/")
			switch {
			case rel == "." || rel == "canary" || rel == "dest":
			case rel == "canary/keep":
				if b, err := os.ReadFile(p); err != nil || string(b) != "canary" {
					t.Errorf("canary file holds %q (%v) after Extract(), want %q", b, err, "canary")
				}
			case !ok:
				t.Errorf("Extract() left %q (%v) outside dest", rel, d.Type())
			case d.IsDir():
			case !d.Type().IsRegular():
				t.Errorf("Extract() created %q of type %v; want only directories and regular files", inDest, d.Type())
			default:
				fi, err := d.Info()
				if err != nil {
					return err
				}
				written = append(written, inDest)
				total += fi.Size()
			}
			return nil
		})
		if walkErr != nil {
			t.Fatalf("walk %s: %v", parent, walkErr)
		}

		if err != nil {
			var bad *BadArchiveError
			if !errors.As(err, &bad) {
				t.Errorf("Extract() = %v, want a *BadArchiveError for any problem of the input", err)
			}
			mustNotExist(t, dest, "after a rejected Extract()")
			return
		}
		slices.Sort(written)
		if got := slices.Sorted(slices.Values(files)); !slices.Equal(got, written) {
			t.Errorf("Extract() reported files %q, but dest holds the files %q", got, written)
		}
		if len(files) == 0 || total > fuzzMaxBytes {
			t.Errorf("Extract() succeeded with %d files and %d bytes; want at least one file and at most %d bytes",
				len(files), total, fuzzMaxBytes)
		}
	})
}
