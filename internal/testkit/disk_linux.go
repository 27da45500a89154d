package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size (as mount(8) takes it: "256k", "4m") on a
// new directory, unmounted when the test ends, and returns the directory. The
// test is skipped where mounting is not permitted.
func MountTmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	mount(t, "tmpfs", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir)
	return dir
}

// MountExt4 makes an ext4 image of size bytes (blocks of blockSize bytes, or
// mkfs.ext4's choice if 0; none reserved for root) and mounts it through a
// loop device on a new directory, unmounted when the test ends, and returns
// the directory. Real disks differ from tmpfs in what a full one still
// allows. The test is skipped where mkfs.ext4 is missing or mounting is not
// permitted.
func MountExt4(t testing.TB, size int64, blockSize int) string {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("cannot test a full ext4 disk: mkfs.ext4 not found")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	args := []string{"-q", "-F", "-m", "0"}
	if blockSize != 0 {
		args = append(args, "-b", strconv.Itoa(blockSize))
	}
	if out, err := exec.Command("mkfs.ext4", append(args, img)...).CombinedOutput(); err != nil {
		t.Skipf("cannot test a full ext4 disk: mkfs.ext4: %v: %s", err, out)
	}
	dir := t.TempDir()
	mount(t, "ext4", "-o", "loop", img, dir)
	return dir
}

// MountXFS makes a sparse xfs image of size bytes (xfs wants at least 300 MiB)
// and mounts it through a loop device on a new directory, unmounted when the
// test ends, and returns the directory. Where mkfs.xfs (Debian's xfsprogs) is
// missing the test is skipped, or fails under CI, which installs it.
func MountXFS(t testing.TB, size int64) string {
	t.Helper()
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mkfs.xfs not found: install xfsprogs (.ci/run does)")
		}
		t.Skip("mkfs.xfs not found (xfsprogs)")
	}
	img := filepath.Join(t.TempDir(), "xfs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.xfs", "-q", "-f", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v\n%s", err, out)
	}
	dir := t.TempDir()
	mount(t, "xfs", "-o", "loop", img, dir)
	return dir
}

// mount runs mount(8) with args, whose last is the mount point, and unmounts
// it (lazily, should a test's process still hold a file there) at cleanup; it
// skips the test where mounting a small kind of file system is not permitted.
func mount(t testing.TB, kind string, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot test a full disk: mounting a small %s is not permitted here: %v: %s", kind, err, out)
	}
	dir := args[len(args)-1]
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// FillDisk writes files in dir until its file system is full and returns a
// function that removes them, which frees the space.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	var paths []string
	free = func() {
		for _, p := range paths {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One large file, then small ones: ext4 keeps a few blocks that a file
	// already large does not get but a new one does.
	for i := 0; ; i++ {
		path := filepath.Join(dir, fmt.Sprintf("filler-%d", i))
		paths = append(paths, path)
		f, err := os.Create(path)
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				paths = paths[:len(paths)-1]
				return free
			}
			t.Fatalf("fill %s: %v", dir, err)
		}
		block := make([]byte, 4096)
		if i > 0 {
			block = block[:1]
		}
		for err == nil {
			_, err = f.Write(block)
			if err == nil && i > 0 {
				err = f.Sync()
				break
			}
		}
		if err == nil {
			err = f.Sync() // ext4 allocates at write-back
		}
		f.Close()
		if i > 0 && errors.Is(err, syscall.ENOSPC) {
			return free
		}
		if err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill %s: %v, want ENOSPC", dir, err)
		}
	}
}
