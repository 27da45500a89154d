package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pyvisor/pyvisor/internal/statefile"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// mountSmall mounts a small file system of kind ("tmpfs", or "ext4" on a
// loop device) on a new directory and returns the directory.
func mountSmall(t *testing.T, kind string) string {
	t.Helper()
	if kind == "ext4" {
		return testkit.MountExt4(t, 2<<20, 0)
	}
	return testkit.MountTmpfs(t, "256k")
}

// desiredOnDisk reads the state file's desired state for name.
func desiredOnDisk(t *testing.T, path, name string) statefile.Desired {
	t.Helper()
	st, err := statefile.Load(path)
	if err != nil {
		t.Fatalf("load state file: %v", err)
	}
	return st.Programs[name].Desired
}

// quietScript runs without writing anything, so that a full disk does not
// trouble it.
const quietScript = "import time\ntime.sleep(3600)\n"

// TestStopOnFullDisk checks that a stop the state file cannot record says so,
// is carried out all the same, and reaches the file by itself once there is
// room again; and that the manager's exit tells when the last save failed.
func TestStopOnFullDisk(t *testing.T) {
	for _, kind := range []string{"tmpfs", "ext4"} {
		t.Run(kind, func(t *testing.T) {
			dir := mountSmall(t, kind)
			if err := os.WriteFile(filepath.Join(dir, "quiet.py"), []byte(quietScript), 0o644); err != nil {
				t.Fatal(err)
			}
			f := newFixtureIn(t, dir, "programs:\n  - {name: quiet, script: quiet.py}\n")
			var logBuf testkit.SyncBuffer
			sup := New(f.cfg, Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			go func() { runErr <- sup.Run(ctx) }()
			stop := sync.OnceValue(func() error {
				cancel()
				return <-runErr
			})
			t.Cleanup(func() { stop() })
			m := &manager{sup: sup}
			st := m.waitFor(t, "quiet", "running", inState(Running))
			statePath := filepath.Join(dir, StateFileName)
			testkit.WaitDesired(t, statePath, "quiet", statefile.DesiredRunning, &logBuf)
			// The start's last save done too: one still under way when the disk
			// fills would free the old file's block as it replaces it.
			testkit.Eventually(t, "the state file to record the running process", func() bool {
				saved, err := statefile.Load(statePath)
				return err == nil && saved.Programs["quiet"].PID == st.PID
			})

			free := testkit.FillDisk(t, dir)
			stopped, err := sup.Stop(t.Context(), "quiet")
			if !errors.Is(err, ErrStateNotSaved) || !strings.Contains(err.Error(), statePath) ||
				!strings.Contains(err.Error(), "no space left") {
				t.Fatalf("Stop on a full disk = %v; want ErrStateNotSaved naming %s and the disk being full", err, statePath)
			}
			if stopped.State != Stopped || alive(st.PID) {
				t.Errorf("Stop on a full disk left the program %s, pid %d alive: %t; want it stopped all the same",
					stopped.State, st.PID, alive(st.PID))
			}
			if d := desiredOnDisk(t, statePath, "quiet"); d != statefile.DesiredRunning {
				t.Fatalf("state file says desired %q on a full disk; the test's disk was not full", d)
			}

			// Room again: the retry writes the stop without another request.
			free()
			testkit.WaitDesired(t, statePath, "quiet", statefile.DesiredStopped, &logBuf)

			// Full again, a start that cannot be saved, and the exit.
			testkit.FillDisk(t, dir)
			if _, err := sup.Start(t.Context(), "quiet"); !errors.Is(err, ErrStateNotSaved) {
				t.Errorf("Start on a full disk = %v; want ErrStateNotSaved", err)
			}
			m.waitFor(t, "quiet", "running after a start on a full disk", inState(Running))
			err = stop()
			if !errors.Is(err, ErrStateNotSaved) || !strings.Contains(err.Error(), statePath) {
				t.Errorf("Run's exit after a failed save = %v; want ErrStateNotSaved naming %s", err, statePath)
			}
			if strings.Contains(logBuf.String(), "state saved;") {
				t.Errorf("the log claims the state was saved at exit although the last save failed:\n%s", logBuf.String())
			}
		})
	}
}
