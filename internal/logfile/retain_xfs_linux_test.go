package logfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRetainerFloodKeepsEveryLineOnXFS runs the numbered-line flood on xfs, the
// other filesystem whose collapse-range rotation keeps every line: a loop image,
// since the machine's own filesystems may be anything. Under CI a missing
// mkfs.xfs (Debian's xfsprogs) fails the test rather than skipping it.
func TestRetainerFloodKeepsEveryLineOnXFS(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mkfs.xfs not found: install xfsprogs (.ci/run does)")
		}
		t.Skip("mkfs.xfs not found (xfsprogs)")
	}
	dir := t.TempDir()
	img := filepath.Join(t.TempDir(), "xfs.img")
	// xfs wants at least 300 MiB; the image is sparse, so it costs what is written.
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 512<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.xfs", "-q", "-f", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v\n%s", err, out)
	}
	mount(t, "-o", "loop", img, dir)
	floodKeepsEveryLine(t, dir, 2000, true)
}
