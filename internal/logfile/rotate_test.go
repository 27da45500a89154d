package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestOpenAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "app.log")
	want := ""
	for _, line := range []string{"one\n", "two\n"} {
		f, err := OpenAppend(path)
		if err != nil {
			t.Fatalf("OpenAppend(%s): %v", path, err)
		}
		// A fresh descriptor starts at offset 0; the write must still append.
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want += line
		if got, err := os.ReadFile(path); string(got) != want {
			t.Errorf("after OpenAppend and writing %q: file = %q, %v; want %q", line, got, err, want)
		}
	}
	umask := currentUmask(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600&^umask {
		t.Errorf("OpenAppend created mode %v, %v; want %v", fi.Mode().Perm(), err, 0o600&^umask)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil || di.Mode().Perm() != 0o700&^umask {
		t.Errorf("OpenAppend created directory mode %v, %v; want %v", di.Mode().Perm(), err, 0o700&^umask)
	}
}

// currentUmask reads the umask through a file created with mode 0777.
func currentUmask(t *testing.T) os.FileMode {
	p := filepath.Join(t.TempDir(), "umask")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o777)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

func TestRotateShiftsBackups(t *testing.T) {
	tests := []struct {
		name    string
		backups int
		rounds  int
		want    map[string]string // suffix -> content; "" is the live file
	}{
		{"zero means one", 0, 2, map[string]string{".1": "round 2\n", ".2": "", "": ""}},
		{"one backup", 1, 3, map[string]string{".1": "round 3\n", ".2": "", "": ""}},
		{"three backups, oldest dropped", 3, 4,
			map[string]string{".1": "round 4\n", ".2": "round 3\n", ".3": "round 2\n", ".4": "", "": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			r := Rotator{Backups: tt.backups}
			for i := 1; i <= tt.rounds; i++ {
				appendFile(t, path, fmt.Sprintf("round %d\n", i))
				// Smaller than a block: always a copytruncate.
				m, err := r.Rotate(path)
				if err != nil || m != CopyTruncate {
					t.Fatalf("Rotate round %d = %v, %v; want %v, nil", i, m, err, CopyTruncate)
				}
			}
			for suffix, want := range tt.want {
				got, err := os.ReadFile(path + suffix)
				if want == "" && suffix != "" {
					if !errors.Is(err, os.ErrNotExist) {
						t.Errorf("after %d rotations with Backups=%d: %s exists (%q); want none", tt.rounds, tt.backups, path+suffix, got)
					}
					continue
				}
				if err != nil || string(got) != want {
					t.Errorf("after %d rotations with Backups=%d: %s = %q, %v; want %q", tt.rounds, tt.backups, path+suffix, got, err, want)
				}
			}
			if _, err := os.Stat(path + ".1.tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary backup left behind: %v", err)
			}
		})
	}
}

func TestRotateMethod(t *testing.T) {
	content := numbered("line", 1, 2000) // ~20 KB, several blocks
	tests := []struct {
		name  string
		force bool
		want  Method
	}{
		{"collapse range where supported", false, CollapseRange},
		{"copy truncate when forced", true, CopyTruncate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			testkit.WriteFile(t, path, content)
			m, err := Rotator{ForceCopyTruncate: tt.force}.Rotate(path)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if m != tt.want {
				if tt.want == CollapseRange && m == CopyTruncate {
					t.Skipf("the filesystem of %s cannot collapse a range", path)
				}
				t.Fatalf("Rotate = %v; want %v", m, tt.want)
			}
			backup, _ := os.ReadFile(path + ".1")
			live, _ := os.ReadFile(path)
			if got := string(backup) + string(live); got != content {
				t.Errorf("after Rotate (%v): backup+live = %d bytes; want the %d original bytes", m, len(got), len(content))
			}
			if m == CollapseRange && (len(live) == 0 || len(backup)%512 != 0) {
				t.Errorf("after collapse: backup %d bytes, live %d bytes; want whole blocks in the backup and the rest live", len(backup), len(live))
			}
			if m == CopyTruncate && len(live) != 0 {
				t.Errorf("after copytruncate: live file %d bytes; want 0", len(live))
			}
		})
	}
}

func TestRotateIfLarger(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name        string
		content     *string // nil: no file
		max         int64
		backups     int
		wantRotated bool
		wantErr     bool
	}{
		{"missing file", nil, 10, 1, false, false},
		{"smaller", ptr("12345\n"), 10, 1, false, false},
		{"exactly the limit", ptr("123456789\n"), 10, 1, false, false},
		{"larger", ptr("1234567890\n"), 10, 1, true, false},
		{"zero limit", ptr("x\n"), 0, 1, false, true},
		{"negative backups", ptr("1234567890\n"), 1, -1, false, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("%d.log", i))
			if tt.content != nil {
				testkit.WriteFile(t, path, *tt.content)
			}
			res, err := Rotator{Backups: tt.backups}.RotateIfLarger(path, tt.max)
			if rotated := res.Method != NoRotation; rotated != tt.wantRotated || (err != nil) != tt.wantErr {
				t.Fatalf("RotateIfLarger(%d) = %+v, %v; want rotated %v, error %v", tt.max, res, err, tt.wantRotated, tt.wantErr)
			}
			if tt.wantRotated && res.Method != CopyTruncate {
				t.Errorf("RotateIfLarger(%d) method = %v; want %v for a file under a block", tt.max, res.Method, CopyTruncate)
			}
		})
	}
}

// The manager checks every idle log every 10 s; a check that finds nothing
// to do must not make garbage (the path's NUL-terminated copy aside).
func TestRotateIfLargerCheckAllocatesAlmostNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.log")
	testkit.WriteFile(t, path, "12345\n")
	r := Rotator{Backups: 1}
	allocs := testing.AllocsPerRun(100, func() {
		if res, err := r.RotateIfLarger(path, 10); res.Method != NoRotation || err != nil {
			t.Fatalf("RotateIfLarger = %+v, %v; want nothing done", res, err)
		}
	})
	if allocs > 1 {
		t.Errorf("a check of a small log allocates %v times, want at most 1", allocs)
	}
	// A path that cannot be a file is an error that names it, not "no file".
	bad := filepath.Join(path, "x.log")
	if _, err := r.RotateIfLarger(bad, 10); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("RotateIfLarger(%q) = %v, want an error naming it", bad, err)
	}
}

// TestRotateIfLargerKeepsEverything checks a file far over the limit: all of
// it but the newest part goes into backups of at most the limit each, and the
// backups, oldest first, and the live file hold a contiguous tail of what was
// written (all of it when the backups have room), each byte once.
func TestRotateIfLargerKeepsEverything(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "%08d\n", i) // 180,000 bytes
	}
	content := b.String()
	const limit = 20000
	for _, force := range []bool{false, true} {
		for _, backups := range []int{50, 3} {
			t.Run(fmt.Sprintf("copy-truncate=%v/backups=%d", force, backups), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "flood.log")
				testkit.WriteFile(t, path, content)
				res, err := Rotator{Backups: backups, ForceCopyTruncate: force}.RotateIfLarger(path, limit)
				if err != nil || res.Method == NoRotation {
					t.Fatalf("RotateIfLarger(%d) = %+v, %v", limit, res, err)
				}
				all := readRetained(t, path, backups+1)
				sizes := backupSizes(t, path, backups+1)
				for i, n := range sizes {
					if n > limit {
						t.Errorf("%v: backup .%d holds %d bytes, over the %d limit", res.Method, i+1, n, limit)
					}
				}
				if len(sizes) != min(backups, res.Backups) || len(sizes) > backups {
					t.Errorf("%v: %d backups after %+v with Backups=%d", res.Method, len(sizes), res, backups)
				}
				if !strings.HasSuffix(content, all) {
					t.Fatalf("%v: backups+live (%d bytes) are not a tail of the %d bytes written", res.Method, len(all), len(content))
				}
				if int64(len(content)) != int64(len(all))+res.Expired {
					t.Errorf("%v: backups+live %d bytes, %d expired; want %d together", res.Method, len(all), res.Expired, len(content))
				}
				if backups == 50 && all != content {
					t.Errorf("%v: with room in the backups, %d of %d bytes kept", res.Method, len(all), len(content))
				}
				if backups == 3 && len(all) < 3*(limit-4096) {
					t.Errorf("%v: %d bytes kept with 3 backups of up to %d; want the backups nearly full", res.Method, len(all), limit)
				}
			})
		}
	}
}

// readRetained returns the backups of path, oldest first, then the live file.
func readRetained(t *testing.T, path string, upTo int) string {
	t.Helper()
	var all []byte
	for i := upTo; i >= 1; i-- {
		b, err := os.ReadFile(backupName(path, i))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	live, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(append(all, live...))
}

// backupSizes returns the sizes of <path>.1, <path>.2, … up to the first missing one.
func backupSizes(t *testing.T, path string, upTo int) []int64 {
	t.Helper()
	var sizes []int64
	for i := 1; i <= upTo; i++ {
		fi, err := os.Stat(backupName(path, i))
		if err != nil {
			break
		}
		sizes = append(sizes, fi.Size())
	}
	return sizes
}

func TestPlanRotation(t *testing.T) {
	tests := []struct {
		name            string
		size, limit, bs int64
		backups         int
		want            rotationPlan
	}{
		{"just over the limit: one backup", 10<<20 + 100, 10 << 20, 4096, 3,
			rotationPlan{CollapseRange, 10 << 20, 10 << 20, 0}},
		{"exactly two backups' worth and a byte", 20<<20 + 1, 10 << 20, 4096, 3,
			rotationPlan{CollapseRange, 20 << 20, 10 << 20, 0}},
		{"two backups' worth: the second stays live", 20 << 20, 10 << 20, 4096, 3,
			rotationPlan{CollapseRange, 10 << 20, 10 << 20, 0}},
		{"more than all backups hold: the oldest skipped", 55 << 20, 10 << 20, 4096, 3,
			rotationPlan{CollapseRange, 50 << 20, 10 << 20, 20 << 20}},
		{"limit not a multiple of the block", 30000, 20000, 4096, 50,
			rotationPlan{CollapseRange, 16384, 16384, 0}},
		{"no limit: all whole blocks in one", 30000, 0, 4096, 1,
			rotationPlan{CollapseRange, 28672, 28672, 0}},
		{"limit under a block", 5000, 100, 4096, 1,
			rotationPlan{CopyTruncate, 5000, 100, 4900}},
		{"one block or less", 4096, 10, 4096, 2,
			rotationPlan{CopyTruncate, 4096, 10, 4080}},
		{"no collapse", 25, 10, 0, 5,
			rotationPlan{CopyTruncate, 25, 10, 0}},
		{"no collapse, no limit", 25, 0, 0, 5,
			rotationPlan{CopyTruncate, 25, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planRotation(tt.size, tt.limit, tt.bs, tt.backups); got != tt.want {
				t.Errorf("planRotation(%d, %d, %d, %d) = %+v, want %+v", tt.size, tt.limit, tt.bs, tt.backups, got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// writerScript writes "%08d\n" lines to stdout, one write(2) each, as fast as
// it can until stdin closes, then prints how many it wrote to stderr.
const writerScript = `
import os, select, sys
i = 0
while True:
    for _ in range(64):
        os.write(1, b"%08d\n" % i)
        i += 1
    if select.select([0], [], [], 0)[0]:
        break
sys.stderr.write(str(i))
`

// TestRotateLosesNothing rotates a log several times while a python3 child
// appends numbered lines to it at full speed, then checks the lines in the
// backups and the live file.
func TestRotateLosesNothing(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	tests := []struct {
		name   string
		force  bool
		method Method
	}{
		{"collapse range", false, CollapseRange},
		{"copy truncate", true, CopyTruncate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const rotations, backups = 8, 50
			path := filepath.Join(t.TempDir(), "app.log")
			w := startWriter(t, path)

			r := Rotator{Backups: backups, ForceCopyTruncate: tt.force}
			for i := range rotations {
				// A file of at most one block is copytruncated by design;
				// let the writer get past two.
				waitForSize(t, path, 8192+int64(i%3)*4096)
				time.Sleep(20 * time.Millisecond)
				m, err := r.Rotate(path)
				if err != nil {
					t.Fatalf("Rotate #%d: %v", i+1, err)
				}
				if m != tt.method {
					if i == 0 && tt.method == CollapseRange && m == CopyTruncate {
						t.Skipf("the filesystem of %s cannot collapse a range", path)
					}
					t.Fatalf("Rotate #%d = %v; want %v", i+1, m, tt.method)
				}
			}
			written := w.stop(t)

			var all []byte
			for i := backups; i >= 1; i-- {
				b, err := os.ReadFile(backupName(path, i))
				if i > rotations && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists after %d rotations", backupName(path, i), rotations)
				}
				all = append(all, b...)
			}
			live, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, live...)
			s := checkNumbered(all, written)
			t.Logf("%v: %d lines written, %d rotations: %d missing, %d duplicated, %d malformed, %d out of order",
				tt.method, written, rotations, s.missing, s.duplicated, s.malformed, s.outOfOrder)
			if s.duplicated != 0 || s.outOfOrder != 0 {
				t.Errorf("%v: backups + live file hold %d duplicated and %d out-of-order lines; want none",
					tt.method, s.duplicated, s.outOfOrder)
			}
			// Copytruncate may lose what is written in its last window, including the
			// head of a line whose tail the writer flushed in a later write (malformed).
			if tt.method == CollapseRange && (s.missing != 0 || s.malformed != 0) {
				t.Errorf("%v: %d of %d lines missing and %d malformed in backups + live file; want none",
					tt.method, s.missing, written, s.malformed)
			}
		})
	}
}

type numberedStats struct{ missing, duplicated, malformed, outOfOrder int }

// checkNumbered checks data against the lines "%08d\n" for 0 … written-1.
func checkNumbered(data []byte, written int) numberedStats {
	var s numberedStats
	seen := make([]bool, written)
	prev := -1
	for line := range bytes.Lines(data) {
		n, err := strconv.Atoi(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil || len(line) != 9 || n < 0 || n >= written {
			s.malformed++
			continue
		}
		if seen[n] {
			s.duplicated++
		}
		if n < prev {
			s.outOfOrder++
		}
		seen[n], prev = true, n
	}
	for _, ok := range seen {
		if !ok {
			s.missing++
		}
	}
	return s
}

func waitForSize(t *testing.T, path string, size int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err == nil && fi.Size() >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d bytes in 30s (%v)", path, size, err)
		}
		time.Sleep(time.Millisecond)
	}
}
