package logfile

import (
	"os/exec"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestRetainerFloodKeepsEveryLineOnXFS runs the numbered-line flood on xfs, the
// other filesystem whose collapse-range rotation keeps every line: a loop image,
// since the machine's own filesystems may be anything.
func TestRetainerFloodKeepsEveryLineOnXFS(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	floodKeepsEveryLine(t, testkit.MountXFS(t, 512<<20), 2000, true)
}
