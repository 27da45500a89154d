package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// upload prepares an upload's directory holding the named test script.
func (f *fixture) upload(name, script string, autostart bool) Upload {
	f.t.Helper()
	dir := filepath.Join(f.dir, UploadsDirName, strings.ReplaceAll(name, " ", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, script), []byte(scripts[script]), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return Upload{Name: name, Script: script, Autostart: autostart, Dir: dir}
}

// installWriting returns an install step that writes msg and, unless it fails
// with err, gives the upload a stand-in venv whose bin/python is the real
// interpreter (a real venv is internal/install's business and tested there).
func installWriting(u Upload, msg string, err error) InstallFunc {
	return func(ctx context.Context, out io.Writer) error {
		fmt.Fprintln(out, msg)
		if err != nil {
			return err
		}
		bin := filepath.Join(u.Dir, ".venv", "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		os.Remove(filepath.Join(bin, "python"))
		return os.Symlink(realPython(), filepath.Join(bin, "python"))
	}
}

var realPython = sync.OnceValue(func() string {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(out))
})

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
	up := f.upload("up", "show.py", true)
	st, err := m.sup.AddUpload(up, installWriting(up, "install step ran", nil))
	if err != nil || st.State != Installing || !st.Uploaded {
		t.Fatalf("Add = %+v, %v; want installing, uploaded", st, err)
	}
	m.waitFor(t, "up", "running", inState(Running))
	m.waitFor(t, "up", "its output", func(Status) bool { return strings.Contains(f.readLog("up"), "PROGRAM=up") })
	log := f.readLog("up")
	if i, j := strings.Index(log, "install step ran"), strings.Index(log, "PROGRAM=up"); i < 0 || j < i {
		t.Errorf("log should hold the install output and then the program's:\n%s", log)
	}
	if _, err := m.sup.AddUpload(up, installWriting(up, "", nil)); !errors.Is(err, ErrExists) {
		t.Errorf("second Add of the same name = %v, want ErrExists", err)
	}
	if _, err := m.sup.AddUpload(f.upload("conf", "show.py", true), installWriting(up, "", nil)); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a configured name = %v, want ErrExists", err)
	}
	// Another name, but the same log file (on a case-insensitive file system): the
	// configuration would no longer load.
	if _, err := m.sup.AddUpload(f.upload("Conf", "show.py", true), installWriting(up, "", nil)); !errors.Is(err, ErrExists) {
		t.Errorf("Add of %q beside the configured %q = %v, want ErrExists (same log file)", "Conf", "conf", err)
	}
	if _, err := config.Load(f.cfg.Path); err != nil {
		t.Errorf("config.Load after the refused Add: %v", err)
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
			u := Upload{Name: "same", Script: "sleeper.py", Dir: filepath.Join(f.dir, UploadsDirName, "same")}
			_, err := m.sup.AddUpload(u, installWriting(u, "x", nil))
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

func TestConfiguredProgramsAreNotUploads(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: conf, script: sleeper.py, enabled: false}\n")
	m := f.start()
	m.ready(t)
	if err := m.sup.RemoveUpload(t.Context(), "conf"); !errors.Is(err, ErrNotUploaded) {
		t.Errorf("RemoveUpload(conf) = %v, want ErrNotUploaded", err)
	}
	u := f.upload("conf", "sleeper.py", false)
	if _, err := m.sup.UpdateUpload(t.Context(), u, installWriting(u, "", nil)); !errors.Is(err, ErrNotUploaded) {
		t.Errorf("UpdateUpload(conf) = %v, want ErrNotUploaded", err)
	}
	outside := Upload{Name: "x", Script: "sleeper.py", Dir: f.dir}
	if _, err := m.sup.AddUpload(outside, installWriting(outside, "", nil)); err == nil {
		t.Errorf("AddUpload with a directory outside %s succeeded", UploadsDirName)
	}
}

// failedInstall starts a manager and uploads program "bad", whose pip install
// fails with "pip install failed: exit status 1".
func failedInstall(t *testing.T) (*fixture, *manager) {
	t.Helper()
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	bad := f.upload("bad", "sleeper.py", true)
	if _, err := m.sup.AddUpload(bad, installWriting(bad, "pip said no", errors.New("pip install failed: exit status 1"))); err != nil {
		t.Fatal(err)
	}
	return f, m
}

func TestFailedInstallIsError(t *testing.T) {
	f, m := failedInstall(t)
	st := m.waitFor(t, "bad", "error", inState(Error))
	if !strings.Contains(st.Error, "pip install failed") {
		t.Errorf("error = %q, want the install's reason", st.Error)
	}

	// Without its requirements it would only fail: a start or restart is
	// refused with the install's reason, which stays shown.
	for name, act := range map[string]func(context.Context, string) (Status, error){
		"Start": m.sup.Start, "Restart": m.sup.Restart,
	} {
		st, err := act(t.Context(), "bad")
		se, ok := errors.AsType[*StartError](err)
		if !ok || !strings.Contains(se.Msg, "pip install failed") || st.State != Error || st.PID != 0 ||
			!strings.Contains(st.Error, "pip install failed") {
			t.Errorf("%s(bad) after a failed install = %+v, %v; want a StartError with the install's reason, still in error", name, st, err)
		}
	}

	// An update that installs lifts the refusal.
	good := f.upload("bad", "sleeper.py", true)
	if _, err := m.sup.UpdateUpload(t.Context(), good, installWriting(good, "pip said yes", nil)); err != nil {
		t.Fatalf("UpdateUpload(bad) after a failed install: %v", err)
	}
	m.waitFor(t, "bad", "running after the update", inState(Running))
}

// TestFailedInstallRefusedAfterRestart restarts the manager after an install
// failed: the refusal and its reason stay, also when the configuration was
// moved (the state file gets a new identity), until an update installs the
// program; that too stays.
func TestFailedInstallRefusedAfterRestart(t *testing.T) {
	f, m := failedInstall(t)
	m.waitFor(t, "bad", "error", inState(Error))
	m.stop()
	cfg, err := config.Load(f.cfg.Path) // with uploaded_programs.yaml
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	statePath := filepath.Join(f.dir, StateFileName)
	for _, moved := range []bool{false, true} {
		saved, _ := statefile.Load(statePath)
		if moved {
			saved.Path = "/elsewhere/" + StateFileName
			if err := statefile.Save(statePath, saved); err != nil {
				t.Fatal(err)
			}
		}
		m := f.start()
		st := m.waitFor(t, "bad", "error", inState(Error))
		st2, err := m.sup.Start(t.Context(), "bad")
		if se, ok := errors.AsType[*StartError](err); !ok || !strings.Contains(se.Msg, "pip install failed") ||
			!strings.Contains(st.Error, "pip install failed") || st2.State != Error || st2.PID != 0 {
			t.Errorf("moved %t: after a restart the program is %+v, and Start = %+v, %v; want a StartError with the install's reason, still in error",
				moved, st, st2, err)
		}
		if now, _ := statefile.Load(statePath); moved && now.Deployment == saved.Deployment {
			t.Errorf("the moved state file kept its identity %q; the test wants a new one", now.Deployment)
		}
		if moved {
			good := f.upload("bad", "sleeper.py", true)
			if _, err := m.sup.UpdateUpload(t.Context(), good, installWriting(good, "pip said yes", nil)); err != nil {
				t.Fatalf("UpdateUpload(bad) after a failed install and a restart: %v", err)
			}
			m.waitFor(t, "bad", "running after the update", inState(Running))
		}
		m.stop()
	}
	m = f.start()
	if st := m.waitFor(t, "bad", "running", inState(Running)); !st.Adopted {
		t.Errorf("after the update and a restart: %+v; want its process adopted", st)
	}
	if saved, _ := statefile.Load(statePath); saved.Programs["bad"].InstallFailed != "" {
		t.Errorf("the state file still has the failed install after an update installed it: %+v", saved.Programs["bad"])
	}
}

func TestUpdateAndRemove(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	m := f.start()
	m.ready(t)
	v1 := f.upload("up", "sleeper.py", true)
	if _, err := m.sup.AddUpload(v1, installWriting(v1, "v1", nil)); err != nil {
		t.Fatal(err)
	}
	m.waitFor(t, "up", "running", inState(Running))
	if cfg, err := config.Load(f.cfg.Path); err != nil || len(cfg.Programs) != 1 || !cfg.Programs[0].Uploaded || cfg.Programs[0].Cwd != v1.Dir {
		t.Errorf("config reloaded with uploaded_programs.yaml = %+v, %v; want the upload", cfg, err)
	}
	if err := m.sup.RemoveUpload(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveUpload(nope) = %v, want ErrNotFound", err)
	}
	v2 := f.upload("up", "show.py", false)
	if _, err := m.sup.UpdateUpload(t.Context(), v2, installWriting(v2, "v2", nil)); !errors.Is(err, ErrBusy) {
		t.Errorf("Update of a running program = %v, want ErrBusy", err)
	}
	if err := m.sup.RemoveUpload(t.Context(), "up"); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove of a running program = %v, want ErrBusy", err)
	}
	if _, err := m.sup.Stop(t.Context(), "up"); err != nil {
		t.Fatal(err)
	}
	st, err := m.sup.UpdateUpload(t.Context(), v2, installWriting(v2, "v2", nil))
	if err != nil || st.State != Installing || st.Script != filepath.Join(v2.Dir, "show.py") {
		t.Fatalf("Update = %+v, %v; want installing with the new script", st, err)
	}
	m.waitFor(t, "up", "stopped after the install", inState(Stopped))
	if spec, _ := m.sup.Spec("up"); spec.Script != "show.py" {
		t.Errorf("Spec after Update: script %q, want show.py", spec.Script)
	}
	if err := m.sup.RemoveUpload(t.Context(), "up"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := m.sup.Status("up"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status after Remove = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(v1.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("upload directory after Remove: stat = %v, want it deleted", err)
	}
	if cfg, err := config.Load(f.cfg.Path); err != nil || len(cfg.Programs) != 0 {
		t.Errorf("config reloaded after Remove = %+v, %v; want no programs", cfg, err)
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
	if _, err := m.sup.AddUpload(f.upload("slow", "sleeper.py", true), installBlocking); err != nil {
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
	if _, err := m.sup.AddUpload(f.upload("slow", "sleeper.py", true), installBlocking); err != nil {
		t.Fatal(err)
	}
	m.waitFor(t, "slow", "installing", inState(Installing))
	m.stop() // the manager goes down during the install

	cfg, err := config.Load(f.cfg.Path) // with uploaded_programs.yaml
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	m2 := f.start()
	st := m2.waitFor(t, "slow", "error", inState(Error))
	if !strings.Contains(st.Error, "interrupted") {
		t.Errorf("error = %q, want it to say the install was interrupted", st.Error)
	}
}

// testUploadFiles stands in for install.Leftovers, which this package cannot
// import: its leftovers are the names that start with "~".
type testUploadFiles struct{}

func (testUploadFiles) IsLeftover(name string) bool { return strings.HasPrefix(name, "~") }

func (testUploadFiles) SetAside(dir string) (string, error) {
	aside := filepath.Join(filepath.Dir(dir), "~removed-"+filepath.Base(dir))
	if err := os.Rename(dir, aside); err != nil {
		return "", err
	}
	return aside, nil
}

func TestLeftoversOfInterruptedUploadsAreSwept(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	up := filepath.Join(f.dir, UploadsDirName)
	keep := filepath.Join(up, "My_App")
	leftovers := []string{"~upload-123.zip", "~staging-abc", "~old-def", "~removed-ghi"}
	for _, d := range append([]string{"My_App"}, leftovers...) {
		if err := os.MkdirAll(filepath.Join(up, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := f.start()
	m.ready(t)
	for _, d := range leftovers {
		if _, err := os.Stat(filepath.Join(up, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after start: stat = %v, want it removed", d, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a program directory was swept: %v", err)
	}
}

// TestUploadBusyWhileRestarting: an uploaded program waiting out its restart
// delay is neither updated nor removed (only a stopped, failed or broken one
// is), as the API promises.
func TestUploadBusyWhileRestarting(t *testing.T) {
	f := newFixture(t, "restart: {delay_seconds: 300}\n")
	m := f.start()
	m.ready(t)
	up := f.upload("crashing", "crash.py", true)
	if _, err := m.sup.AddUpload(up, installWriting(up, "", nil)); err != nil {
		t.Fatalf("AddUpload: %v", err)
	}
	m.waitFor(t, "crashing", "restarting", inState(Restarting))
	if err := m.sup.RemoveUpload(t.Context(), "crashing"); !errors.Is(err, ErrBusy) {
		t.Errorf("RemoveUpload of a restarting program = %v, want ErrBusy", err)
	}
	if _, err := m.sup.UpdateUpload(t.Context(), up, installWriting(up, "", nil)); !errors.Is(err, ErrBusy) {
		t.Errorf("UpdateUpload of a restarting program = %v, want ErrBusy", err)
	}
	if st, _ := m.sup.Status("crashing"); st.State != Restarting {
		t.Errorf("after the refused changes the program is %s, want still restarting", st.State)
	}
}

// TestFilesAreOnlyTheManagers: what the manager writes beside the config (the
// state file, uploaded_programs.yaml, the logs and their directory) is for its
// own user alone: a log may hold what a program printed of its secrets.
func TestFilesAreOnlyTheManagers(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: conf, script: sleeper.py}\n")
	m := f.start()
	m.ready(t)
	up := f.upload("up", "show.py", true)
	if _, err := m.sup.AddUpload(up, installWriting(up, "installed", nil)); err != nil {
		t.Fatalf("AddUpload: %v", err)
	}
	m.waitFor(t, "up", "running", inState(Running))
	m.waitFor(t, "conf", "running", inState(Running))
	for path, want := range map[string]os.FileMode{
		filepath.Join(f.dir, "process_manager.pids.json"):       0o600,
		f.cfg.UploadedPath():                                    0o600,
		filepath.Join(f.dir, "log"):                             os.ModeDir | 0o700,
		filepath.Join(f.dir, "log", config.LogFileName("conf")): 0o600,
		filepath.Join(f.dir, "log", config.LogFileName("up")):   0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
	}
}
