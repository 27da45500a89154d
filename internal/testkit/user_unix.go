//go:build unix

package testkit

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
	"testing"
)

// Nobody returns the user nobody and the credential that runs a process as
// nobody (its own group only). It skips the test unless it runs as root (only
// root may switch users) on a machine that has nobody; doing names what the
// test does as nobody, for the message ("installing as another user").
func Nobody(t testing.TB, doing string) (*user.User, *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(doing + " needs root; run the tests as root to cover it")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user nobody has uid %q, gid %q", u.Uid, u.Gid)
	}
	return u, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
}
