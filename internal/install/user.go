package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// User is the account an install's steps run as, and that then owns the program's directory. pip install
// runs code of the packages it installs (setup.py, build backends), so a manager running as root should not
// run it as root.
type User struct {
	// Name goes into the steps' USER and LOGNAME.
	Name string
	// Home goes into the steps' HOME. pip keeps its cache there only if it is a directory the user owns;
	// otherwise (nobody's home is /nonexistent) the steps run with PIP_NO_CACHE_DIR=1, so pip does not
	// warn about a cache it cannot write.
	Home string
	// Credential is the uid, gid and supplementary groups the steps run with; nil means the manager's own:
	// no switch, and the files are left as they are.
	Credential *syscall.Credential
}

// credential returns the credential of the install's user, or nil to run as the manager.
func (in Installer) credential() *syscall.Credential {
	if in.User == nil {
		return nil
	}
	return in.User.Credential
}

// userEnv returns the variables that a step of in.User needs on top of the manager's environment.
func (in Installer) userEnv() []string {
	u := in.User
	if u == nil {
		return nil
	}
	env := []string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name}
	uid := uint32(os.Geteuid())
	if u.Credential != nil {
		uid = u.Credential.Uid
	}
	if !ownsDir(u.Home, uid) {
		env = append(env, "PIP_NO_CACHE_DIR=1")
	}
	return env
}

// ownsDir reports whether path is a directory owned by uid.
func ownsDir(path string, uid uint32) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uid
}

// chownTree gives dir and everything in it to uid and gid. Children go before their directory: until a
// directory is the user's, nothing in it can be changed by the user's processes (of an earlier install,
// say), so none can swap a directory for a symbolic link to elsewhere while the walk is under way. Links
// themselves are not followed (the extractor refuses them anyway).
func chownTree(dir string, uid, gid int) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	// WalkDir lists a directory before its contents; backwards, every directory comes after them.
	for _, path := range slices.Backward(paths) {
		if err := os.Lchown(path, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// explainDenied adds to err, the failure of a step started in dir with argv as in.User, what the user
// must be able to do, when the step could not even start for want of permission: the child reports a
// refused chdir and a refused exec alike, as "fork/exec PATH: permission denied".
func (in Installer) explainDenied(err error, dir string, argv []string) error {
	var pe *fs.PathError
	if in.credential() == nil || !errors.As(err, &pe) || !errors.Is(err, syscall.EACCES) {
		return err
	}
	return fmt.Errorf("%w (user %q must be able to run %s and to enter %s and every directory above it; see uploads.python)",
		err, in.User.Name, pe.Path, dir)
}
