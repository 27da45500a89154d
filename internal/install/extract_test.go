package install

import (
	"archive/zip"
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExtractAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		zip   []byte
		files []string          // what Extract returns
		tree  map[string]string // what dest holds afterwards (see listTree)
		modes map[string]fs.FileMode
	}{
		{
			name: "flat",
			zip: makeZip(t, zfile{name: "main.py", body: "print(1)\n"}, zfile{name: "lib/"},
				zfile{name: "lib/util.py", body: "X = 1\n"}, zfile{name: "run.sh", body: "#!/bin/sh\n", mode: 0o750}),
			files: []string{"main.py", "lib/util.py", "run.sh"},
			tree:  map[string]string{"main.py": "print(1)\n", "lib": "<dir>", "lib/util.py": "X = 1\n", "run.sh": "#!/bin/sh\n"},
			modes: map[string]fs.FileMode{".": fs.ModeDir | 0o700, "main.py": 0o600, "lib": fs.ModeDir | 0o700, "run.sh": 0o700},
		},
		{
			name: "nested single folder is flattened",
			zip: makeZip(t, zfile{name: "proj/"}, zfile{name: "proj/main.py", body: "m"},
				zfile{name: "proj/pkg/"}, zfile{name: "proj/pkg/a.py", body: "a"}),
			files: []string{"main.py", "pkg/a.py"},
			tree:  map[string]string{"main.py": "m", "pkg": "<dir>", "pkg/a.py": "a"},
		},
		{
			name:  "single folder without directory entries is flattened",
			zip:   makeZip(t, zfile{name: "proj/main.py", body: "m"}, zfile{name: "proj/sub/b.py", body: "b"}),
			files: []string{"main.py", "sub/b.py"},
			tree:  map[string]string{"main.py": "m", "sub": "<dir>", "sub/b.py": "b"},
		},
		{
			name:  "only one level is flattened",
			zip:   makeZip(t, zfile{name: "a/b/main.py", body: "m"}),
			files: []string{"b/main.py"},
			tree:  map[string]string{"b": "<dir>", "b/main.py": "m"},
		},
		{
			name:  "two top-level folders are kept",
			zip:   makeZip(t, zfile{name: "a/x.py", body: "x"}, zfile{name: "b/y.py", body: "y"}),
			files: []string{"a/x.py", "b/y.py"},
			tree:  map[string]string{"a": "<dir>", "a/x.py": "x", "b": "<dir>", "b/y.py": "y"},
		},
		{
			name:  "folder and a top-level file are kept",
			zip:   makeZip(t, zfile{name: "proj/main.py", body: "m"}, zfile{name: "README", body: "r"}),
			files: []string{"proj/main.py", "README"},
			tree:  map[string]string{"proj": "<dir>", "proj/main.py": "m", "README": "r"},
		},
		{
			name:  "single top-level file is not a folder",
			zip:   makeZip(t, zfile{name: "main.py", body: "m"}),
			files: []string{"main.py"},
			tree:  map[string]string{"main.py": "m"},
		},
		{
			name: "__MACOSX is skipped and does not prevent flattening",
			zip: makeZip(t, zfile{name: "proj/"}, zfile{name: "proj/main.py", body: "m"}, zfile{name: "__MACOSX/"},
				zfile{name: "__MACOSX/proj/"}, zfile{name: "__MACOSX/proj/._main.py", body: "junk"}),
			files: []string{"main.py"},
			tree:  map[string]string{"main.py": "m"},
		},
		{
			name:  "dot elements and double slashes are cleaned",
			zip:   makeZip(t, zfile{name: "./"}, zfile{name: "./main.py", body: "m"}, zfile{name: "lib//./u.py", body: "u"}),
			files: []string{"main.py", "lib/u.py"},
			tree:  map[string]string{"main.py": "m", "lib": "<dir>", "lib/u.py": "u"},
		},
		{
			name:  "empty directories are created",
			zip:   makeZip(t, zfile{name: "main.py", body: "m"}, zfile{name: "data/cache/"}, zfile{name: "data/"}),
			files: []string{"main.py"},
			tree:  map[string]string{"main.py": "m", "data": "<dir>", "data/cache": "<dir>"},
		},
		{
			name:  "stored entries and empty files",
			zip:   makeRawZip(t, storedEntry("main.py", "print(2)\n"), storedEntry("__init__.py", "")),
			files: []string{"main.py", "__init__.py"},
			tree:  map[string]string{"main.py": "print(2)\n", "__init__.py": ""},
		},
		{
			name:  "non-ASCII names",
			zip:   makeZip(t, zfile{name: "données/é.py", body: "e"}, zfile{name: "données/日本.txt", body: "j"}),
			files: []string{"é.py", "日本.txt"},
			tree:  map[string]string{"é.py": "e", "日本.txt": "j"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "dest")
			files, err := Extract(bytes.NewReader(tt.zip), int64(len(tt.zip)), dest, Limits{})
			if err != nil {
				t.Fatalf("Extract() = %v, want success", err)
			}
			if !slices.Equal(files, tt.files) {
				t.Errorf("Extract() files = %q, want %q", files, tt.files)
			}
			if got := listTree(t, dest); !maps.Equal(got, tt.tree) {
				t.Errorf("after Extract(), dest holds %q, want %q", got, tt.tree)
			}
			for name, want := range tt.modes {
				fi, err := os.Lstat(filepath.Join(dest, name))
				if err != nil || fi.Mode() != want {
					t.Errorf("mode of %s = %v (%v), want %v", name, fi.Mode(), err, want)
				}
			}
		})
	}
}

func TestExtractRejects(t *testing.T) {
	t.Parallel()
	valid := makeZip(t, zfile{name: "main.py", body: strings.Repeat("print('hello')\n", 50)},
		zfile{name: "lib/util.py", body: "X = 1\n"})
	honestSmall := storedEntry("ok.txt", "0123456789")
	lyingSmall := storedEntry("small.txt", "0123456789")
	lyingSmall.hdr.UncompressedSize64 = 4
	lyingLarge := storedEntry("small.txt", "0123456789")
	lyingLarge.hdr.UncompressedSize64 = 1000
	badCRC := storedEntry("main.py", "print(1)\n")
	badCRC.hdr.CRC32++
	encrypted := storedEntry("secret.py", "xxxxxxxxxxxx")
	encrypted.hdr.Flags |= 0x1
	oddMethod := storedEntry("main.py", "print(1)\n")
	oddMethod.hdr.Method = 99
	body := bytes.Repeat([]byte("all work and no play "), 100)
	deflateLie := rawEntry{
		hdr:  zip.FileHeader{Name: "lie.py", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(body), UncompressedSize64: 100},
		data: deflated(t, body),
	}

	tests := []struct {
		name  string
		zip   []byte
		lim   Limits
		entry string // the BadArchiveError's Entry
		msg   string // a substring of its Msg
	}{
		{"not a zip", []byte("PK\x03\x04 this is not really a zip file"), Limits{}, "", "not a ZIP file"},
		{"empty file", nil, Limits{}, "", "not a ZIP file"},
		{"truncated mid-transfer", valid[:len(valid)/2], Limits{}, "", "not a ZIP file"},
		{"truncated by a few bytes", valid[:len(valid)-5], Limits{}, "", "not a ZIP file"},
		{"empty zip", makeZip(t), Limits{}, "", "no files"},
		{"only directories", makeZip(t, zfile{name: "a/"}, zfile{name: "a/b/"}), Limits{}, "", "no files"},
		{"only __MACOSX", makeZip(t, zfile{name: "__MACOSX/._x", body: "j"}), Limits{}, "", "no files"},
		{"absolute path", makeZip(t, zfile{name: "/etc/evil", body: "x"}), Limits{}, "/etc/evil", "absolute"},
		{"dot-dot", makeZip(t, zfile{name: "../evil.py", body: "x"}), Limits{}, "../evil.py", `".."`},
		{"dot-dot inside", makeZip(t, zfile{name: "a/b/../../../evil.py", body: "x"}), Limits{}, "a/b/../../../evil.py", `".."`},
		{"dot-dot directory", makeZip(t, zfile{name: "a/../"}, zfile{name: "main.py"}), Limits{}, "a/../", `".."`},
		{"backslash", makeZip(t, zfile{name: `..\evil.py`, body: "x"}), Limits{}, `..\evil.py`, "backslash"},
		{"drive letter", makeZip(t, zfile{name: "C:/evil.py", body: "x"}), Limits{}, "C:/evil.py", "drive letter"},
		{"drive-relative", makeZip(t, zfile{name: "d:evil.py", body: "x"}), Limits{}, "d:evil.py", "drive letter"},
		{"NUL", makeZip(t, zfile{name: "main.py\x00.txt", body: "x"}), Limits{}, "main.py\x00.txt", "control"},
		{"newline", makeZip(t, zfile{name: "a\nb.py", body: "x"}), Limits{}, "a\nb.py", "control"},
		{"escape", makeZip(t, zfile{name: "a\x1b[31m.py", body: "x"}), Limits{}, "a\x1b[31m.py", "control"},
		{"invalid UTF-8", makeZip(t, zfile{name: "a\xff.py", body: "x"}), Limits{}, "a\xff.py", "UTF-8"},
		{"overlong element", makeZip(t, zfile{name: strings.Repeat("x", 256), body: "x"}), Limits{}, strings.Repeat("x", 256), "longer"},
		{"symlink", makeZip(t, zfile{name: "main.py", body: "m"}, zfile{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}),
			Limits{}, "link", "symbolic link"},
		{"symlink to a directory", makeZip(t, zfile{name: "up/", mode: fs.ModeSymlink | 0o777}, zfile{name: "up/x.py"}),
			Limits{}, "up/", "symbolic link"},
		{"block device", makeZip(t, zfile{name: "sda", mode: fs.ModeDevice | 0o600}), Limits{}, "sda", "device"},
		{"char device", makeZip(t, zfile{name: "null", mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}), Limits{}, "null", "device"},
		{"fifo", makeZip(t, zfile{name: "fifo", mode: fs.ModeNamedPipe | 0o644}), Limits{}, "fifo", "FIFO"},
		{"socket", makeZip(t, zfile{name: "sock", mode: fs.ModeSocket | 0o644}), Limits{}, "sock", "socket"},
		{"duplicate file", makeZip(t, zfile{name: "main.py", body: "1"}, zfile{name: "main.py", body: "2"}),
			Limits{}, "main.py", "duplicate"},
		{"duplicate after cleaning", makeZip(t, zfile{name: "a/b.py", body: "1"}, zfile{name: "a//./b.py", body: "2"}),
			Limits{}, "a//./b.py", "duplicate"},
		{"file then directory", makeZip(t, zfile{name: "a", body: "1"}, zfile{name: "a/b.py", body: "2"}),
			Limits{}, "a/b.py", "is a file"},
		{"directory then file", makeZip(t, zfile{name: "a/b.py", body: "1"}, zfile{name: "a", body: "2"}),
			Limits{}, "a", "both a file and a directory"},
		{"too many entries", makeZip(t, zfile{name: "a"}, zfile{name: "b"}, zfile{name: "c"}, zfile{name: "d/"}),
			Limits{MaxEntries: 3}, "", "more than the limit of 3"},
		{"too large in total", makeRawZip(t, storedEntry("a", strings.Repeat("a", 60)), storedEntry("b", strings.Repeat("b", 60))),
			Limits{MaxUncompressed: 100}, "b", "limit of 100 bytes"},
		{"header declares less than the data", makeRawZip(t, honestSmall, rawEntry{hdr: lyingSmall.hdr, data: lyingSmall.data}),
			Limits{}, "small.txt", "header"},
		{"deflated header declares less", makeRawZip(t, deflateLie), Limits{}, "lie.py", "header"},
		{"header declares more than the data", makeRawZip(t, lyingLarge), Limits{}, "small.txt", "ends early"},
		{"checksum mismatch", makeRawZip(t, badCRC), Limits{}, "main.py", "checksum"},
		{"encrypted", makeRawZip(t, encrypted), Limits{}, "secret.py", "encrypted"},
		{"unknown compression method", makeRawZip(t, oddMethod), Limits{}, "main.py", "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRejected(t, tt.zip, tt.lim, tt.entry, tt.msg)
		})
	}
}

// checkRejected extracts data and checks that Extract refused it with a *BadArchiveError for entry whose
// message contains msg, leaving no dest behind.
func checkRejected(t *testing.T, data []byte, lim Limits, entry, msg string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "dest")
	files, err := Extract(bytes.NewReader(data), int64(len(data)), dest, lim)
	var bad *BadArchiveError
	if !errors.As(err, &bad) {
		t.Fatalf("Extract() = %q, %v; want a *BadArchiveError", files, err)
	}
	if bad.Entry != entry || !strings.Contains(bad.Msg, msg) {
		t.Errorf("Extract() = entry %q, message %q; want entry %q, a message containing %q", bad.Entry, bad.Msg, entry, msg)
	}
	if entry != "" && !strings.Contains(err.Error(), "entry") {
		t.Errorf("Extract() error %q does not name the entry", err)
	}
	mustNotExist(t, dest, "after a rejected Extract()")
}

func TestExtractZipBomb(t *testing.T) {
	t.Parallel()
	bomb, size := zeroDeflate(600_000_000 / 258) // 600 MB of zeros in 3.8 MB
	tests := []struct {
		name     string
		declared uint64 // 0: the header tells the truth
		lim      Limits
		msg      string
	}{
		{"honest header over the default limit", 0, Limits{}, "over the limit of 500 MiB"},
		{"header claims 1000 bytes", 1000, Limits{MaxUncompressed: 1 << 20}, "header"},
		{"header claims the limit", 1 << 20, Limits{MaxUncompressed: 1 << 20}, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := zipBomb(t, bomb, size, tt.declared)
			checkRejected(t, data, tt.lim, "bomb.bin", tt.msg)
		})
	}
}

// TestZeroDeflate checks the hand-made deflate stream that the zip bomb tests rely on.
func TestZeroDeflate(t *testing.T) {
	t.Parallel()
	data, size := zeroDeflate(1000)
	z := makeRawZip(t, rawEntry{
		hdr:  zip.FileHeader{Name: "z", Method: zip.Deflate, UncompressedSize64: size, CRC32: crc32.ChecksumIEEE(make([]byte, size))},
		data: data,
	})
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatalf("zip.NewReader of the zero bomb = %v", err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, make([]byte, size)) {
		t.Fatalf("inflating zeroDeflate(1000) = %d bytes, %v; want %d zero bytes and no error", len(got), err, size)
	}
}

func TestExtractDestExists(t *testing.T) {
	t.Parallel()
	data := makeZip(t, zfile{name: "main.py", body: "m"})
	dest := filepath.Join(t.TempDir(), "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "keep"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Extract(bytes.NewReader(data), int64(len(data)), dest, Limits{})
	var bad *BadArchiveError
	if !errors.Is(err, fs.ErrExist) || errors.As(err, &bad) {
		t.Fatalf("Extract() into an existing dir = %q, %v; want an fs.ErrExist error that is no BadArchiveError", files, err)
	}
	if got, want := listTree(t, dest), map[string]string{"keep": "mine"}; !maps.Equal(got, want) {
		t.Errorf("existing dest holds %q after Extract(), want %q untouched", got, want)
	}
}

func TestExtractMissingParent(t *testing.T) {
	t.Parallel()
	data := makeZip(t, zfile{name: "main.py", body: "m"})
	dest := filepath.Join(t.TempDir(), "no", "dest")
	if _, err := Extract(bytes.NewReader(data), int64(len(data)), dest, Limits{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Extract() under a missing parent = %v, want an fs.ErrNotExist error", err)
	}
}

func TestCopyLimited(t *testing.T) {
	t.Parallel()
	f := &zip.File{FileHeader: zip.FileHeader{Name: "x"}}
	tests := []struct {
		name     string
		data     string
		declared uint64
		limit    int64
		msg      string // "" means success
	}{
		{"within both", "0123456789", 10, 10, ""},
		{"over the declared size", "0123456789", 5, 5, "more data than its header declares"},
		{"over the remaining budget", "0123456789", 10, 9, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			e := entry{f: f, path: "x", size: tt.declared}
			// A one-byte buffer makes the limit bite mid-stream, as in a real bomb.
			n, err := copyLimited(&out, strings.NewReader(tt.data), e, tt.limit, make([]byte, 1))
			if tt.msg == "" {
				if err != nil || out.String() != tt.data || n != int64(len(tt.data)) {
					t.Errorf("copyLimited(limit %d) = %d, %v, wrote %q; want %d, nil, %q", tt.limit, n, err, out.String(), len(tt.data), tt.data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) || int64(out.Len()) > tt.limit {
				t.Errorf("copyLimited(limit %d) = %v after writing %d bytes; want an error containing %q and at most %d bytes",
					tt.limit, err, out.Len(), tt.msg, tt.limit)
			}
		})
	}
}
