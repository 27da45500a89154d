package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestRotateOnFullDisk fills a small filesystem so that no backup can be
// made: the rotation must then drop the head of the live file instead of
// failing, say how much it dropped, and copy again once there is space.
func TestRotateOnFullDisk(t *testing.T) {
	tests := []struct {
		name   string
		mount  func(t *testing.T) string
		method Method
	}{
		{"tmpfs", func(t *testing.T) string { return testkit.MountTmpfs(t, "4m") }, CopyTruncate},
		// 16 MiB of 4 KiB blocks.
		{"ext4 loop image", func(t *testing.T) string { return testkit.MountExt4(t, 16<<20, 4096) }, CollapseRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.mount(t)
			path := filepath.Join(dir, "app.log")
			const limit = 1 << 20
			r := Rotator{Backups: 3}
			content := numbered("line", 0, 150000)[:3*limit/2] // 1.5 MiB
			testkit.WriteFile(t, path, content)
			free := testkit.FillDisk(t, dir)

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
			free()
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
