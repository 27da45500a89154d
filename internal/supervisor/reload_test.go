package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// load writes yaml as the fixture's config file and loads it, as a reload does.
func (f *fixture) load(yaml string) *config.Config {
	f.t.Helper()
	if err := os.WriteFile(f.cfg.Path, []byte(yaml), 0o644); err != nil {
		f.t.Fatal(err)
	}
	cfg, err := config.Load(f.cfg.Path)
	if err != nil {
		f.t.Fatalf("config.Load:\n%s\n%v", yaml, err)
	}
	return cfg
}

// reload loads yaml and reloads the manager with it, failing the test on an error.
func (m *manager) reload(t *testing.T, f *fixture, yaml string) ReloadResult {
	t.Helper()
	res, err := m.sup.Reload(t.Context(), f.load(yaml))
	if err != nil {
		t.Fatalf("Reload with\n%s\n= %+v, %v", yaml, res, err)
	}
	return res
}

func (m *manager) names() []string {
	var out []string
	for _, st := range m.sup.Statuses() {
		out = append(out, st.Name)
	}
	return out
}

func wantResult(t *testing.T, got ReloadResult, added, removed, changed, needsRestart []string) {
	t.Helper()
	if !slices.Equal(got.Added, added) || !slices.Equal(got.Removed, removed) ||
		!slices.Equal(got.Changed, changed) || !slices.Equal(got.NeedsRestart, needsRestart) {
		t.Errorf("Reload = %+v; want added %q, removed %q, changed %q, needs restart %q", got, added, removed, changed, needsRestart)
	}
}

// TestReload changes a running configuration at once in every way: programs
// added, removed (with a grandchild), changed while running, broken, stopped
// by the user or disabled, and one left alone.
func TestReload(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0.1}
programs:
  - {name: keep, script: sleeper.py}
  - {name: change, script: show.py, args: "one"}
  - {name: gone, script: forker.py}
  - {name: held, script: show.py, args: "a"}
  - {name: off, script: sleeper.py, enabled: false}
  - {name: sig, script: polite.py, stop_signal: INT}
  - {name: fixme, script: crash.py, restart: {max_consecutive_failures: 1}}
`)
	m := f.start()
	keep := m.waitFor(t, "keep", "running", inState(Running))
	old := m.waitFor(t, "change", "its output", func(Status) bool { return strings.Contains(f.readLog("change"), "PROGRAM=") })
	gone := m.waitFor(t, "gone", "running", inState(Running))
	m.waitFor(t, "sig", "up", func(Status) bool { return strings.Contains(f.readLog("sig"), "up") })
	m.waitFor(t, "fixme", "broken", inState(Broken))
	var grandchild int
	for deadline := time.Now().Add(10 * time.Second); grandchild == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(f.dir, "grandchild.pid"))
		grandchild, _ = strconv.Atoi(string(data))
	}
	if grandchild == 0 || !alive(grandchild) {
		t.Fatalf("gone's grandchild pid %d not running", grandchild)
	}
	m.waitFor(t, "held", "running", inState(Running))
	if _, err := m.sup.Stop(t.Context(), "held"); err != nil {
		t.Fatal(err)
	}

	res := m.reload(t, f, `
restart: {delay_seconds: 0.1}
programs:
  - {name: new, script: sleeper.py}
  - {name: keep, script: sleeper.py, group: Workers}
  - {name: change, script: show.py, args: "two"}
  - {name: held, script: show.py, args: "b"}
  - {name: off, script: sleeper.py}
  - {name: sig, script: polite.py, stop_signal: TERM}
  - {name: fixme, script: sleeper.py, restart: {max_consecutive_failures: 1}}
  - {name: newoff, script: sleeper.py, enabled: false}
`)
	wantResult(t, res, []string{"new", "newoff"}, []string{"gone"}, []string{"change", "held", "off", "sig", "fixme"}, nil)
	if got, want := m.names(), []string{"new", "keep", "change", "held", "off", "sig", "fixme", "newoff"}; !slices.Equal(got, want) {
		t.Errorf("Statuses after Reload: %q, want the new file's order %q", got, want)
	}

	t.Run("untouched keeps its process, a new group too", func(t *testing.T) {
		st, _ := m.sup.Status("keep")
		if st.PID != keep.PID || !st.StartedAt.Equal(keep.StartedAt) || st.RestartCount != 0 || st.Group != "Workers" {
			t.Errorf("keep after Reload: pid %d started %s restarts %d group %q; want pid %d started %s, no restart, group Workers",
				st.PID, st.StartedAt, st.RestartCount, st.Group, keep.PID, keep.StartedAt)
		}
	})
	t.Run("changed restarts with its new arguments", func(t *testing.T) {
		st := m.waitFor(t, "change", "the new run's output", func(Status) bool { return strings.Contains(f.readLog("change"), "args=two") })
		if st.State != Running || st.PID == old.PID || alive(old.PID) || !slices.Equal(st.Args, []string{"two"}) {
			t.Errorf("change after Reload: %+v; want running with a new pid (old %d gone) and args [two]", st, old.PID)
		}
	})
	t.Run("removed is stopped with its group and dropped", func(t *testing.T) {
		if _, err := m.sup.Status("gone"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status(gone) after Reload = %v, want ErrNotFound", err)
		}
		if alive(gone.PID) || alive(grandchild) {
			t.Errorf("after Reload: gone's pid %d alive=%t, its grandchild %d alive=%t; want both gone",
				gone.PID, alive(gone.PID), grandchild, alive(grandchild))
		}
		waitStateFile(t, f, "gone is dropped from the state file", func(st statefile.State) bool {
			_, ok := st.Programs["gone"]
			return !ok
		})
		if _, err := os.Stat(filepath.Join(f.dir, "log", "gone.log")); err != nil {
			t.Errorf("gone's log after Reload: %v; want it kept", err)
		}
	})
	t.Run("stopped by the user stays stopped", func(t *testing.T) {
		st, _ := m.sup.Status("held")
		spec, _ := m.sup.Spec("held")
		if st.State != Stopped || st.PID != 0 || !slices.Equal(spec.Args, []string{"b"}) || !slices.Equal(st.Args, []string{"b"}) {
			t.Errorf("held after Reload: %+v, spec args %q; want stopped with the new args [b]", st, spec.Args)
		}
	})
	t.Run("disabled, now enabled, starts", func(t *testing.T) {
		m.waitFor(t, "off", "running", inState(Running))
	})
	t.Run("old process gets its own stop signal", func(t *testing.T) {
		m.waitFor(t, "sig", "running again", func(st Status) bool { return st.State == Running && st.RestartCount == 1 })
		if log := f.readLog("sig"); !strings.Contains(log, "got SIGINT") || strings.Contains(log, "got SIGTERM") {
			t.Errorf("sig's log after Reload:\n%s\nwant the old process stopped with its stop_signal INT", log)
		}
	})
	t.Run("broken is restarted with its fix", func(t *testing.T) {
		st := m.waitFor(t, "fixme", "running", inState(Running))
		if st.ConsecutiveFailures != 0 {
			t.Errorf("fixme after Reload: %d failures, want the count cleared", st.ConsecutiveFailures)
		}
	})
	t.Run("added are started if enabled", func(t *testing.T) {
		m.waitFor(t, "new", "running", inState(Running))
		if st, err := m.sup.Status("newoff"); err != nil || st.State != Stopped {
			t.Errorf("Status(newoff) = %+v, %v; want a disabled program stopped", st, err)
		}
		waitStateFile(t, f, "new in the state file", func(st statefile.State) bool { return st.Programs["new"].PID != 0 })
	})
	t.Run("the same file again changes nothing", func(t *testing.T) {
		before := m.sup.Statuses()
		res, err := m.sup.Reload(t.Context(), f.load(mustRead(t, f.cfg.Path)))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, nil, nil, nil, nil)
		for i, st := range m.sup.Statuses() {
			if st.PID != before[i].PID || st.State != before[i].State {
				t.Errorf("%s after a reload of the same file: %s pid %d, was %s pid %d", st.Name, st.State, st.PID, before[i].State, before[i].PID)
			}
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitStateFile waits until the state file satisfies cond: it is written
// moments after the change that causes the write.
func waitStateFile(t *testing.T, f *fixture, what string, cond func(statefile.State) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := statefile.Load(filepath.Join(f.dir, StateFileName))
		if err == nil && cond(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: state file %+v, %v", what, st.Programs, err)
		}
		time.Sleep(20 * time.Millisecond) // the persister gives no notice of its writes
	}
}

// TestReloadGlobalSettings changes global settings and wants exactly the
// programs whose resolved definition they change restarted.
func TestReloadGlobalSettings(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	for _, d := range []string{"sub", "pinned"} {
		if err := os.Mkdir(filepath.Join(f.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, d, "show.py"), []byte(scripts["show.py"]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeEnv := func(v string) {
		if err := os.WriteFile(filepath.Join(f.dir, "common.env"), []byte("GREETING="+v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeEnv("v1")
	yaml := func(cwd string, delay float64) string {
		return fmt.Sprintf(`
env_file: common.env
%s
restart: {delay_seconds: %v}
programs:
  - {name: floating, script: show.py}
  - {name: pinned, script: show.py, cwd: pinned, restart: {delay_seconds: 0.5}}
`, cwd, delay)
	}
	f.cfg = f.load(yaml("", 1))
	m := f.start()
	hasLog := func(name, text string) func(Status) bool {
		return func(Status) bool { return strings.Contains(f.readLog(name), text) }
	}
	pinned := m.waitFor(t, "pinned", "its output", hasLog("pinned", "GREETING=v1"))
	m.waitFor(t, "floating", "its output", hasLog("floating", "GREETING=v1"))

	t.Run("global cwd", func(t *testing.T) {
		res := m.reload(t, f, yaml("cwd: sub", 1))
		wantResult(t, res, nil, nil, []string{"floating"}, nil)
		m.waitFor(t, "floating", "output from sub", hasLog("floating", "cwd="+filepath.Join(f.dir, "sub")))
		if st, _ := m.sup.Status("pinned"); st.PID != pinned.PID {
			t.Errorf("pinned (own cwd) after a global cwd change: pid %d, want %d undisturbed", st.PID, pinned.PID)
		}
	})
	t.Run("global restart policy", func(t *testing.T) {
		res := m.reload(t, f, yaml("cwd: sub", 2))
		wantResult(t, res, nil, nil, []string{"floating"}, nil)
		if st, _ := m.sup.Status("pinned"); st.PID != pinned.PID {
			t.Errorf("pinned (own delay) after a global delay change: pid %d, want %d undisturbed", st.PID, pinned.PID)
		}
		if spec, _ := m.sup.Spec("floating"); spec.Restart.Delay != 2*time.Second {
			t.Errorf("floating's restart delay after Reload = %s, want 2s", spec.Restart.Delay)
		}
	})
	t.Run("global env file content", func(t *testing.T) {
		writeEnv("v2")
		res := m.reload(t, f, yaml("cwd: sub", 2))
		wantResult(t, res, nil, nil, []string{"floating", "pinned"}, nil)
		m.waitFor(t, "floating", "the new value", hasLog("floating", "GREETING=v2"))
		st := m.waitFor(t, "pinned", "the new value", hasLog("pinned", "GREETING=v2"))
		if st.PID == pinned.PID {
			t.Errorf("pinned after its environment changed: same pid %d, want a restart", st.PID)
		}
	})
	t.Run("settings read at start", func(t *testing.T) {
		res := m.reload(t, f, "web_ui: {port: 10001}\nlogging: {backups: 3}\n"+yaml("cwd: sub", 2))
		wantResult(t, res, nil, nil, nil, []string{"web_ui.port", "logging.backups"})
		if got := m.sup.config().WebUI.Port; got != 10000 {
			t.Errorf("web_ui.port in effect after Reload = %d, want the start's 10000", got)
		}
	})
}

func TestReloadRefusals(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: a, script: sleeper.py}\n")
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := m.names(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("programs after a refused Reload: %q, want [a]", got)
		}
		if st, _ := m.sup.Status("a"); st.PID != a.PID {
			t.Errorf("a after a refused Reload: pid %d, want %d", st.PID, a.PID)
		}
	}
	t.Run("another directory", func(t *testing.T) {
		other := newFixture(t, "programs:\n  - {name: b, script: sleeper.py}\n")
		if res, err := m.sup.Reload(t.Context(), other.cfg); err == nil {
			t.Errorf("Reload with the config of %s = %+v, want an error", other.dir, res)
		}
		unchanged(t)
	})
	t.Run("a new program named like an upload made meanwhile", func(t *testing.T) {
		cfg := f.load("programs:\n  - {name: a, script: sleeper.py}\n  - {name: up, script: sleeper.py}\n")
		u := f.upload("up", "sleeper.py", false)
		if _, err := m.sup.AddUpload(u, installWriting(u, "", nil)); err != nil {
			t.Fatal(err)
		}
		if res, err := m.sup.Reload(t.Context(), cfg); !errors.Is(err, ErrExists) {
			t.Errorf("Reload adding the upload's name = %+v, %v; want ErrExists", res, err)
		}
		if st, _ := m.sup.Status("up"); !st.Uploaded {
			t.Errorf("Status(up) = %+v, want the upload", st)
		}
		f.load("programs:\n  - {name: a, script: sleeper.py}\n")
	})
	t.Run("during shutdown", func(t *testing.T) {
		cfg := f.load("programs:\n  - {name: a, script: sleeper.py}\n  - {name: b, script: sleeper.py}\n")
		m.stop()
		if res, err := m.sup.Reload(t.Context(), cfg); !errors.Is(err, ErrShutdown) {
			t.Errorf("Reload after Run ended = %+v, %v; want ErrShutdown", res, err)
		}
		if _, err := m.sup.Status("b"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status(b) after a refused Reload = %v, want ErrNotFound", err)
		}
	})
}

// TestReloadOfAnEmptyFile checks that a file emptied by accident (0 bytes,
// all comments, no programs list) does not remove every program, and that
// `programs: []` does.
func TestReloadOfAnEmptyFile(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: a, script: sleeper.py}\n  - {name: b, script: sleeper.py}\n")
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	for _, tt := range []struct{ name, yaml string }{
		{"0 bytes", ""},
		{"all comments", "# programs:\n#   - {name: a, script: sleeper.py}\n"},
		{"every entry commented out", "programs:\n#  - {name: a, script: sleeper.py}\n"},
		{"no programs key", "restart: {delay_seconds: 2}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := m.sup.Reload(t.Context(), f.load(tt.yaml))
			if !errors.Is(err, ErrNoProgramsListed) || !strings.Contains(err.Error(), f.cfg.Path) ||
				!strings.Contains(err.Error(), "programs: []") {
				t.Errorf("Reload with %q = %+v, %v; want ErrNoProgramsListed naming %s and saying to write programs: []",
					tt.yaml, res, err, f.cfg.Path)
			}
			if got := m.names(); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("programs after a refused Reload: %q, want [a b]", got)
			}
			if st, _ := m.sup.Status("a"); st.State != Running || st.PID != a.PID {
				t.Errorf("a after a refused Reload: %s, pid %d; want running, pid %d", st.State, st.PID, a.PID)
			}
		})
	}
	res := m.reload(t, f, "programs: []\n")
	wantResult(t, res, nil, []string{"a", "b"}, nil, nil)
	if got := m.names(); len(got) != 0 {
		t.Errorf("programs after a Reload with programs: [] = %q, want none", got)
	}
	if alive(a.PID) {
		t.Errorf("a (pid %d) alive after a Reload with programs: []", a.PID)
	}
}

// TestReloadRacesUploads reloads while programs are uploaded and removed:
// the registry stays whole, in order, and uploaded_programs.yaml lists every
// upload.
func TestReloadRacesUploads(t *testing.T) {
	files := []string{
		"programs:\n  - {name: a, script: sleeper.py, enabled: false}\n",
		"programs:\n  - {name: b, script: sleeper.py, enabled: false}\n  - {name: a, script: sleeper.py, enabled: false}\n",
	}
	f := newFixture(t, files[0])
	m := f.start()
	m.ready(t)
	cfgs := []*config.Config{f.load(files[0]), f.load(files[1])}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 10 {
			if _, err := m.sup.Reload(t.Context(), cfgs[(i+1)%2]); err != nil {
				t.Errorf("Reload %d: %v", i, err)
			}
		}
	})
	wg.Go(func() {
		for i := range 6 {
			u := f.upload(fmt.Sprintf("up%d", i), "sleeper.py", false)
			if _, err := m.sup.AddUpload(u, installWriting(u, "", nil)); err != nil {
				t.Errorf("AddUpload(%s): %v", u.Name, err)
				continue
			}
			if i%2 == 0 {
				continue
			}
			// Not waitFor: it may end the test, which only the test's goroutine may do.
			changed, cancel := m.sup.Subscribe()
			deadline := time.Now().Add(20 * time.Second)
			err := m.sup.RemoveUpload(t.Context(), u.Name)
			for errors.Is(err, ErrBusy) && time.Now().Before(deadline) { // still installing
				select {
				case <-changed:
				case <-time.After(100 * time.Millisecond):
				}
				err = m.sup.RemoveUpload(t.Context(), u.Name)
			}
			cancel()
			if err != nil {
				t.Errorf("RemoveUpload(%s): %v", u.Name, err)
			}
		}
	})
	wg.Wait()
	want := []string{"a", "up0", "up2", "up4"} // the last reload applied files[0]
	if got := m.names(); !slices.Equal(got, want) {
		t.Errorf("programs after racing reloads and uploads: %q, want %q", got, want)
	}
	cfg, err := config.Load(f.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	var uploaded []string
	for _, p := range cfg.Programs {
		if p.Uploaded {
			uploaded = append(uploaded, p.Name)
		}
	}
	if !slices.Equal(uploaded, want[1:]) {
		t.Errorf("%s lists %q, want %q", config.UploadedFileName, uploaded, want[1:])
	}
}
