package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo terminal and returns its two ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("number of the pseudo terminal: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo terminal's slave: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// TestAnnounceGenerated: a new generated password is shown on a terminal
// (and a stale password file from an earlier one removed), and on a pipe only
// written to a file of mode 0600 whose path is shown.
func TestAnnounceGenerated(t *testing.T) {
	const password = "GENERATEDPASSWORD1234567"
	t.Run("terminal", func(t *testing.T) {
		dir := t.TempDir()
		authPath, pwPath := filepath.Join(dir, "auth.json"), filepath.Join(dir, "admin-password")
		testkit.WriteFile(t, pwPath, "an earlier password\n")
		master, slave := openPTY(t)
		if err := announceGenerated("admin", password, authPath, pwPath, slave); err != nil {
			t.Fatalf("announceGenerated on a terminal: %v", err)
		}
		slave.Close()
		out, _ := io.ReadAll(master) // ends with EIO once the slave is closed
		if !bytes.Contains(out, []byte("Generated admin password: "+password)) {
			t.Errorf("announceGenerated on a terminal wrote %q; want the password", out)
		}
		if _, err := os.Stat(pwPath); !os.IsNotExist(err) {
			t.Errorf("announceGenerated on a terminal left %s (stat: %v); want the stale file removed", pwPath, err)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		dir := t.TempDir()
		authPath, pwPath := filepath.Join(dir, "auth.json"), filepath.Join(dir, "admin-password")
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := announceGenerated("admin", password, authPath, pwPath, w); err != nil {
			t.Fatalf("announceGenerated on a pipe: %v", err)
		}
		w.Close()
		out, _ := io.ReadAll(r)
		data, err := os.ReadFile(pwPath)
		info, statErr := os.Stat(pwPath)
		switch {
		case bytes.Contains(out, []byte(password)):
			t.Errorf("announceGenerated on a pipe wrote the password: %q", out)
		case !bytes.Contains(out, []byte("cat "+pwPath)):
			t.Errorf("announceGenerated on a pipe wrote %q; want how to read %s", out, pwPath)
		case err != nil || statErr != nil || strings.TrimSpace(string(data)) != password || info.Mode().Perm() != 0o600:
			t.Errorf("%s after announceGenerated on a pipe: %q, %v, %v; want the password, mode 0600", pwPath, data, err, statErr)
		}
	})
}
