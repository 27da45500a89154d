package proc

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// deniedAs explains a start as cred that failed with "permission denied": which directory on the way to the
// working directory dir, or to the executable exe, cred may not search, or that it may not execute exe. It
// reads only the permission bits, owner and group (not ACLs), so it is a diagnosis for an error message and
// never a reason to refuse a start; "" when the bits show nothing wrong.
func deniedAs(cred *syscall.Credential, dir, exe string) string {
	if cred.Uid == 0 {
		return "" // root searches every directory
	}
	if dir != "" {
		if blocked, fi := unsearchable(cred, dir); blocked != "" {
			return fmt.Sprintf("uid %d may not enter %s (%s), on the way to the working directory %s",
				cred.Uid, blocked, describeOwner(fi), dir)
		}
	}
	if !filepath.IsAbs(exe) {
		exe = filepath.Join(dir, exe)
	}
	if blocked, fi := unsearchable(cred, filepath.Dir(exe)); blocked != "" {
		return fmt.Sprintf("uid %d may not enter %s (%s), on the way to the executable %s",
			cred.Uid, blocked, describeOwner(fi), exe)
	}
	if fi, err := os.Stat(exe); err == nil && !permits(cred, fi, 1) {
		return fmt.Sprintf("uid %d may not execute %s (%s)", cred.Uid, exe, describeOwner(fi))
	}
	return ""
}

// unsearchable returns the first directory from / down to the absolute dir that cred may not search, and its
// file info; "" when there is none (or it cannot be told).
func unsearchable(cred *syscall.Credential, dir string) (string, fs.FileInfo) {
	dir = filepath.Clean(dir)
	path := "/"
	for elem := range strings.SplitSeq(strings.TrimPrefix(dir, "/"), "/") {
		path = filepath.Join(path, elem)
		fi, err := os.Stat(path)
		if err != nil {
			return "", nil
		}
		if !permits(cred, fi, 1) {
			return path, fi
		}
	}
	return "", nil
}

// permits reports whether the permission bits of fi grant cred the access bit (4 read, 2 write, 1 execute
// or search), by the class the kernel would pick: owner, else group, else others.
func permits(cred *syscall.Credential, fi fs.FileInfo, bit fs.FileMode) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == cred.Uid:
		return perm&(bit<<6) != 0
	case st.Gid == cred.Gid || slices.Contains(cred.Groups, st.Gid):
		return perm&(bit<<3) != 0
	}
	return perm&bit != 0
}

// describeOwner says what decides the access to fi: "drwx------, owner uid 0, group gid 0".
func describeOwner(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%v, owner uid %d, group gid %d", fi.Mode(), st.Uid, st.Gid)
	}
	return fi.Mode().String()
}
