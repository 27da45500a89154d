package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// uploaded is the definition of an uploaded program running script from the fixture's directory.
func (f *fixture) uploaded(name, script string, autostart bool) config.Program {
	return config.Program{
		Name: name, Script: script, Cwd: f.dir, Enabled: autostart, Autorestart: true, Uploaded: true,
		Restart: f.cfg.Restart, StopSignal: syscall.SIGTERM, StopTimeout: 5 * time.Second,
	}
}

func installWriting(msg string, err error) InstallFunc {
	return func(ctx context.Context, out io.Writer) error {
		fmt.Fprintln(out, msg)
		return err
	}
}

// installBlocking writes a line and waits until it is canceled.
func installBlocking(ctx context.Context, out io.Writer) error {
	fmt.Fprintln(out, "installing forever")
	<-ctx.Done()
	return ctx.Err()
}

func (m *manager) ready(t *testing.T) {
	t.Helper()
	select {
	case <-m.sup.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor not ready")
	}
}

func TestAddInstallsThenStarts(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: conf, script: sleeper.py, enabled: false}\n")
	m := f.start()
	m.ready(t)
	st, err := m.sup.Add(f.uploaded("up", "show.py", true), installWriting("install step ran", nil))
	if err != nil || st.State != Installing || !st.Uploaded {
		t.Fatalf("Add = %+v, %v; want installing, uploaded", st, err)
	}
	m.waitFor(t, "up", "running", inState(Running))
	m.waitFor(t, "up", "its output", func(Status) bool { return strings.Contains(f.readLog("up"), "PROGRAM=up") })
	log := f.readLog("up")
	if i, j := strings.Index(log, "install step ran"), strings.Index(log, "PROGRAM=up"); i < 0 || j < i {
		t.Errorf("log should hold the install output and then the program's:\n%s", log)
	}
	if _, err := m.sup.Add(f.uploaded("up", "show.py", true), installWriting("", nil)); !errors.Is(err, ErrExists) {
		t.Errorf("second Add of the same name = %v, want ErrExists", err)
	}
	if _, err := m.sup.Add(f.uploaded("conf", "show.py", true), installWriting("", nil)); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a configured name = %v, want ErrExists", err)
	}
	names := []string{}
	for _, s := range m.sup.Statuses() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "conf,up" {
		t.Errorf("Statuses order = %v, want config programs then uploads", names)
	}
}

func TestConcurrentAddsOneWins(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	results := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := m.sup.Add(f.uploaded("same", "sleeper.py", false), installWriting("x", nil))
			results <- err
		}()
	}
	wins := 0
	for range 8 {
		if err := <-results; err == nil {
			wins++
		} else if !errors.Is(err, ErrExists) {
			t.Errorf("Add = %v, want nil or ErrExists", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of 8 concurrent Adds won, want exactly 1", wins)
	}
}

func TestFailedInstallIsError(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	if _, err := m.sup.Add(f.uploaded("bad", "sleeper.py", true), installWriting("pip said no", errors.New("pip install failed: exit status 1"))); err != nil {
		t.Fatal(err)
	}
	st := m.waitFor(t, "bad", "error", inState(Error))
	if !strings.Contains(st.Error, "pip install failed") {
		t.Errorf("error = %q, want the install's reason", st.Error)
	}
}

func TestUpdateAndRemove(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	if _, err := m.sup.Add(f.uploaded("up", "sleeper.py", true), installWriting("v1", nil)); err != nil {
		t.Fatal(err)
	}
	m.waitFor(t, "up", "running", inState(Running))
	if _, err := m.sup.Update(t.Context(), f.uploaded("up", "show.py", false), installWriting("v2", nil)); !errors.Is(err, ErrBusy) {
		t.Errorf("Update of a running program = %v, want ErrBusy", err)
	}
	if err := m.sup.Remove(t.Context(), "up"); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove of a running program = %v, want ErrBusy", err)
	}
	if _, err := m.sup.Stop(t.Context(), "up"); err != nil {
		t.Fatal(err)
	}
	st, err := m.sup.Update(t.Context(), f.uploaded("up", "show.py", false), installWriting("v2", nil))
	if err != nil || st.State != Installing || st.Script != filepath.Join(f.dir, "show.py") {
		t.Fatalf("Update = %+v, %v; want installing with the new script", st, err)
	}
	m.waitFor(t, "up", "stopped after the install", inState(Stopped))
	if spec, _ := m.sup.Spec("up"); spec.Script != "show.py" {
		t.Errorf("Spec after Update: script %q, want show.py", spec.Script)
	}
	if err := m.sup.Remove(t.Context(), "up"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := m.sup.Status("up"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status after Remove = %v, want ErrNotFound", err)
	}
	m.stop()
	st2, _ := statefile.Load(filepath.Join(f.dir, StateFileName))
	if _, ok := st2.Programs["up"]; ok {
		t.Errorf("state file still has the removed program: %+v", st2.Programs)
	}
}

func TestStopDuringInstallCancelsIt(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	if _, err := m.sup.Add(f.uploaded("slow", "sleeper.py", true), installBlocking); err != nil {
		t.Fatal(err)
	}
	if _, err := m.sup.Start(t.Context(), "slow"); !errors.Is(err, ErrBusy) {
		t.Errorf("Start during install = %v, want ErrBusy", err)
	}
	st, err := m.sup.Stop(t.Context(), "slow")
	if err != nil || st.State != Error || !strings.Contains(st.Error, "installation failed") {
		t.Errorf("Stop during install = %+v, %v; want error state saying the install failed", st, err)
	}
}

func TestInterruptedInstallIsReported(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	spec := f.uploaded("slow", "sleeper.py", true)
	if _, err := m.sup.Add(spec, installBlocking); err != nil {
		t.Fatal(err)
	}
	m.waitFor(t, "slow", "installing", inState(Installing))
	m.stop() // the manager goes down during the install

	f.cfg.Programs = append(f.cfg.Programs, spec) // as loaded from uploaded_programs.yaml
	m2 := f.start()
	st := m2.waitFor(t, "slow", "error", inState(Error))
	if !strings.Contains(st.Error, "interrupted") {
		t.Errorf("error = %q, want it to say the install was interrupted", st.Error)
	}
}
