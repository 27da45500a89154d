package install

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"unicode/utf8"
)

// macJunk is the folder of resource forks that the macOS Finder adds to every ZIP it makes. It is skipped, and
// ignored when deciding whether to flatten: a ZIP of one folder made on a Mac is still a ZIP of one folder.
const macJunk = "__MACOSX"

// maxElem is the longest file or directory name common filesystems accept (NAME_MAX on Linux and macOS).
const maxElem = 255

// entry is one ZIP entry that Extract will write.
type entry struct {
	f    *zip.File
	path string      // slash path relative to dest, clean, after flattening
	dir  bool        // a directory, else a regular file
	mode fs.FileMode // permissions of a file: 0600, or 0700 if any execute bit was set
	size uint64      // uncompressed size as the header declares it; the real size is counted while writing
}

// planEntries checks every entry of a ZIP and decides where each goes, reading only the central directory:
// nothing is written and nothing is decompressed, so a bad ZIP is rejected before dest exists. The sizes it
// checks are what the headers declare; Extract counts the real bytes while writing.
func planEntries(files []*zip.File, lim Limits) ([]entry, error) {
	if len(files) > lim.MaxEntries {
		return nil, &BadArchiveError{Msg: fmt.Sprintf("%d entries, more than the limit of %d", len(files), lim.MaxEntries)}
	}
	type candidate struct {
		entry
		elems []string
	}
	var cands []candidate
	var total uint64
	for _, f := range files {
		elems, why := splitEntryName(f.Name)
		if why != "" {
			return nil, badEntry(f.Name, "%s", why)
		}
		mode := f.Mode()
		isDir := mode.Type() == fs.ModeDir
		if !isDir && !mode.IsRegular() {
			return nil, badEntry(f.Name, "is %s; only regular files and directories are allowed", describeMode(mode))
		}
		if f.Flags&0x1 != 0 {
			return nil, badEntry(f.Name, "is encrypted, which is not supported")
		}
		if len(elems) == 0 {
			if !isDir {
				return nil, badEntry(f.Name, "has no file name")
			}
			continue // "./": the root itself
		}
		if elems[0] == macJunk {
			continue
		}
		if !isDir {
			// Compare before adding so that a huge declared size cannot wrap the sum around.
			if f.UncompressedSize64 > uint64(lim.MaxUncompressed)-total {
				return nil, badEntry(f.Name, "would bring the uncompressed size over the limit of %s (a zip bomb?)",
					sizeString(lim.MaxUncompressed))
			}
			total += f.UncompressedSize64
		}
		perm := fs.FileMode(0o600)
		if mode&0o111 != 0 {
			perm = 0o700
		}
		cands = append(cands, candidate{entry{f: f, dir: isDir, mode: perm, size: f.UncompressedSize64}, elems})
	}

	strip := 0
	if flatten(len(cands), func(i int) ([]string, bool) { return cands[i].elems, cands[i].dir }) {
		strip = 1
	}
	var (
		out    []entry
		seen   = make(map[string]bool) // path -> is a directory
		nfiles int
	)
	for _, c := range cands {
		elems := c.elems[strip:]
		if len(elems) == 0 {
			continue // the flattened top-level folder itself
		}
		c.path = strings.Join(elems, "/")
		if err := claim(seen, c.f.Name, elems, c.dir); err != nil {
			return nil, err
		}
		if !c.dir {
			nfiles++
		}
		out = append(out, c.entry)
	}
	if nfiles == 0 {
		return nil, &BadArchiveError{Msg: "the ZIP contains no files"}
	}
	return out, nil
}

// splitEntryName splits a ZIP entry name into its path elements, dropping empty and "." elements, or says
// why the name is unsafe. The checks are deliberately stricter than any filesystem needs: a name that could
// mean something else on another OS (a backslash, a drive letter) is refused rather than guessed at.
func splitEntryName(name string) (elems []string, why string) {
	switch {
	case name == "":
		return nil, "has an empty name"
	case !utf8.ValidString(name):
		return nil, "name is not valid UTF-8"
	case strings.ContainsFunc(name, isControl):
		return nil, "name contains a control character"
	case strings.Contains(name, `\`):
		return nil, `name contains a backslash (a Windows path?)`
	case name[0] == '/':
		return nil, "is an absolute path"
	case hasDriveLetter(name):
		return nil, "starts with a drive letter"
	}
	for e := range strings.SplitSeq(name, "/") {
		switch {
		case e == "" || e == ".":
			continue
		case e == "..":
			return nil, `path has a ".." element`
		case len(e) > maxElem:
			return nil, fmt.Sprintf("has a path element longer than %d bytes", maxElem)
		}
		elems = append(elems, e)
	}
	return elems, ""
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

// hasDriveLetter reports whether name starts like a Windows drive path ("C:" or "c:foo").
func hasDriveLetter(name string) bool {
	if len(name) < 2 || name[1] != ':' {
		return false
	}
	c := name[0] | 0x20 // lower case for letters
	return c >= 'a' && c <= 'z'
}

// describeMode names the kind of a non-regular, non-directory file mode for an error message.
func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeDevice != 0:
		return "a device file"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return fmt.Sprintf("a special file (mode %v)", m)
	}
}

// flatten decides whether n entries, given by their path elements and kinds, all sit in one top-level folder:
// every entry's first element is the same and no file sits at the top level.
func flatten(n int, at func(i int) (elems []string, dir bool)) bool {
	if n == 0 {
		return false
	}
	first, _ := at(0)
	top := first[0]
	for i := range n {
		elems, dir := at(i)
		if elems[0] != top || (!dir && len(elems) == 1) {
			return false
		}
	}
	return true
}

// claim records elems (an entry named name) in seen, which maps each path taken so far to whether it is a
// directory, and refuses a second file of the same name or a path that would be a file and a directory.
func claim(seen map[string]bool, name string, elems []string, dir bool) error {
	for i := 1; i < len(elems); i++ {
		parent := strings.Join(elems[:i], "/")
		if isDir, ok := seen[parent]; ok && !isDir {
			return badEntry(name, "lies inside %q, which is a file in the same ZIP", parent)
		}
		seen[parent] = true
	}
	p := strings.Join(elems, "/")
	isDir, ok := seen[p]
	switch {
	case !ok:
		seen[p] = dir
	case dir && isDir:
		// A directory listed twice (or listed after a file inside it) is harmless.
	case !dir && !isDir:
		return badEntry(name, "is a duplicate: another entry has the same path %q", p)
	default:
		return badEntry(name, "is both a file and a directory in the same ZIP (%q)", p)
	}
	return nil
}

// sizeString formats a byte count for people: whole MiB when exact, else bytes.
func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// clampInt64 converts a declared uint64 size to int64, saturating at the largest int64.
func clampInt64(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}
