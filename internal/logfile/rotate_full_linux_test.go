package logfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRotateOnFullDisk fills a small filesystem so that no backup can be
// made: the rotation must then drop the head of the live file instead of
// failing, say how much it dropped, and copy again once there is space.
func TestRotateOnFullDisk(t *testing.T) {
	tests := []struct {
		name   string
		mount  func(t *testing.T, dir string)
		method Method
	}{
		{"tmpfs", mountTmpfs, CopyTruncate},
		{"ext4 loop image", mountExt4, CollapseRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.mount(t, dir)
			path := filepath.Join(dir, "app.log")
			const limit = 1 << 20
			r := Rotator{Backups: 3}
			content := numbered("line", 0, 150000)[:3*limit/2] // 1.5 MiB
			writeFile(t, path, content)
			filler := filepath.Join(dir, "filler")
			fill(t, filler)

			res, err := r.RotateIfLarger(path, limit)
			if err != nil {
				t.Fatalf("RotateIfLarger on a full disk: %+v, %v; want the head dropped", res, err)
			}
			fi, _ := os.Stat(path)
			if res.Dropped == 0 || res.Moved != 0 || res.Method != tt.method || fi.Size() > limit || res.Dropped+fi.Size() != int64(len(content)) {
				t.Errorf("RotateIfLarger on a full disk = %+v, live file %d bytes; want %v dropping %d bytes, leaving at most %d",
					res, fi.Size(), tt.method, int64(len(content))-fi.Size(), limit)
			}
			leftovers, _ := filepath.Glob(path + ".*")
			if len(leftovers) != 0 {
				t.Errorf("files left after a rotation without space: %v", leftovers)
			}
			if live, _ := os.ReadFile(path); !bytes.HasSuffix([]byte(content), live) {
				t.Errorf("the live file after dropping is not the newest part of what was written")
			}

			// Space is back: the next rotation keeps everything again.
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			before := readRetained(t, path, 4)
			more := numbered("more", 0, 150000)[:3*limit/2]
			appendFile(t, path, more)
			res, err = r.RotateIfLarger(path, limit)
			if err != nil || res.Dropped != 0 || res.Moved == 0 {
				t.Fatalf("RotateIfLarger with space back = %+v, %v; want bytes moved, none dropped", res, err)
			}
			if got := readRetained(t, path, 4); got != before+more {
				t.Errorf("with space back, backups+live hold %d bytes; want the %d there before and the %d written since", len(got), len(before), len(more))
			}
		})
	}
}

// fill writes to path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte("f"), 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			break
		}
	}
	// Single blocks may still be free; take them too.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	f.Sync()
}

func mountTmpfs(t *testing.T, dir string) {
	mount(t, "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir)
}

// mountExt4 mounts a 16 MiB ext4 image of 4 KiB blocks on dir.
func mountExt4(t *testing.T, dir string) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not found")
	}
	img := filepath.Join(t.TempDir(), "ext4.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	mount(t, "-o", "loop", img, dir)
}

// mount runs mount(8) with args, whose last is the mount point, and unmounts
// it at cleanup; it skips the test where mounting is not permitted.
func mount(t *testing.T, args ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("mount %v not permitted here: %v\n%s", args, err, out)
	}
	dir := args[len(args)-1]
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
}
