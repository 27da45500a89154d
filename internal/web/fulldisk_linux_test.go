package web

import (
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/statefile"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestStopOnFullDiskAnswers503 checks that a stop the state file cannot
// record is answered 503 with a message saying so (the program is stopped all
// the same), and that the state file records it by itself once the disk has
// room again.
func TestStopOnFullDiskAnswers503(t *testing.T) {
	dir := testkit.MountTmpfs(t, "256k")
	testkit.WriteFile(t, filepath.Join(dir, "quiet.py"), "import time\ntime.sleep(3600)\n")
	f := newFixtureIn(t, dir, "programs:\n  - {name: quiet, script: quiet.py}\n")
	st := f.waitFor(t, "quiet", "running", inState(supervisor.Running))
	statePath := filepath.Join(dir, supervisor.StateFileName)
	testkit.WaitDesired(t, statePath, "quiet", statefile.DesiredRunning)

	free := testkit.FillDisk(t, dir)

	resp := f.do(t, "POST", programPath("quiet", "/stop"), nil)
	body := decode[api.Error](t, "POST stop on a full disk", resp)
	if resp.status != http.StatusServiceUnavailable || !strings.Contains(body.Error, "could not be saved") ||
		!strings.Contains(body.Error, statePath) || !strings.Contains(body.Error, "state stopped") {
		t.Errorf("POST stop on a full disk = %d %q; want 503 saying the program is stopped but %s could not be saved",
			resp.status, body.Error, statePath)
	}
	if syscall.Kill(st.PID, 0) == nil {
		t.Errorf("pid %d alive after a stop on a full disk; the stop must happen all the same", st.PID)
	}

	free()
	testkit.WaitDesired(t, statePath, "quiet", statefile.DesiredStopped)
}
