package supervisor

import (
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

func TestDecideReload(t *testing.T) {
	run, stop := statefile.DesiredRunning, statefile.DesiredStopped
	tests := []struct {
		name    string
		st      State
		desired statefile.Desired
		enabled bool
		want    reloadAction
	}{
		{"running is restarted", Running, run, true, reloadRestart},
		{"running, now disabled, is still restarted", Running, run, false, reloadRestart},
		{"restarting is restarted at once", Restarting, run, true, reloadRestart},
		{"broken is restarted", Broken, run, true, reloadRestart},
		{"error is tried again", Error, run, false, reloadRestart},
		{"stopped by the user stays stopped", Stopped, stop, true, reloadKeep},
		{"error after the user's stop stays", Error, stop, true, reloadKeep},
		{"stopped and disabled stays stopped", Stopped, run, false, reloadKeep},
		{"stopped, not by the user, and enabled starts", Stopped, run, true, reloadStart},
		{"installing is left to the install", Installing, run, true, reloadKeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideReload(tc.st, tc.desired, tc.enabled); got != tc.want {
				t.Errorf("decideReload(%s, %s, enabled=%t) = %s, want %s", tc.st, tc.desired, tc.enabled, got, tc.want)
			}
		})
	}
}

func TestDiffPrograms(t *testing.T) {
	def := func(name string, edit ...func(*definition)) definition {
		d := definition{
			spec: config.Program{Name: name, Script: name + ".py", Enabled: true, Line: 3, StopSignal: syscall.SIGTERM},
			cmd:  config.Command{Python: "python3", Script: "/srv/" + name + ".py", Dir: "/srv", Env: []string{"A=1"}},
		}
		for _, e := range edit {
			e(&d)
		}
		return d
	}
	list := func(ds ...definition) []definition { return ds }
	tests := []struct {
		name                    string
		cur, next               []definition
		added, removed, changed []string
	}{
		{"nothing", list(def("a"), def("b")), list(def("a"), def("b")), nil, nil, nil},
		{"only the line moved", list(def("a")), list(def("a", func(d *definition) { d.spec.Line = 9 })), nil, nil, nil},
		{"added in file order", list(def("b")), list(def("c"), def("b"), def("a")), []string{"c", "a"}, nil, nil},
		{"removed", list(def("a"), def("b"), def("c")), list(def("b")), nil, []string{"a", "c"}, nil},
		{"args changed", list(def("a")), list(def("a", func(d *definition) { d.spec.Args = []string{"x"} })), nil, nil, []string{"a"}},
		{"stop signal changed", list(def("a")),
			list(def("a", func(d *definition) { d.spec.StopSignal = syscall.SIGINT })), nil, nil, []string{"a"}},
		{"restart policy changed", list(def("a")),
			list(def("a", func(d *definition) { d.spec.Restart.Delay = time.Second })), nil, nil, []string{"a"}},
		{"resolved environment changed (a global env_file)", list(def("a"), def("b")),
			list(def("a", func(d *definition) { d.cmd.Env = []string{"A=2"} }), def("b")), nil, nil, []string{"a"}},
		{"resolved directory changed (a global cwd)", list(def("a")),
			list(def("a", func(d *definition) { d.cmd.Dir = "/elsewhere" })), nil, nil, []string{"a"}},
		{"all at once", list(def("a"), def("b"), def("c")),
			list(def("d"), def("c", func(d *definition) { d.cmd.Python = "/venv/bin/python" }), def("a")),
			[]string{"d"}, []string{"b"}, []string{"c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := diffPrograms(tc.cur, tc.next)
			if !slices.Equal(got.Added, tc.added) || !slices.Equal(got.Removed, tc.removed) || !slices.Equal(got.Changed, tc.changed) {
				t.Errorf("diffPrograms = added %q removed %q changed %q; want %q %q %q",
					got.Added, got.Removed, got.Changed, tc.added, tc.removed, tc.changed)
			}
		})
	}
}

// perturb changes v (a struct: its first field it can change); false if it
// cannot.
func perturb(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Struct:
		for i := range v.NumField() {
			if perturb(v.Field(i)) {
				return true
			}
		}
		return false
	default:
		return false
	}
	return true
}

// TestNeedsRestartCoversEverySetting changes each field of the settings read
// once at start, one at a time, and wants each change reported; a field added
// to one of those blocks later fails here until needsRestart compares it.
func TestNeedsRestartCoversEverySetting(t *testing.T) {
	base := config.Default(t.TempDir())
	blocks := []string{"WebUI", "Logging", "Sampling", "Uploads"}
	for _, block := range blocks {
		typ := reflect.ValueOf(base).Elem().FieldByName(block).Type()
		for i := range typ.NumField() {
			field := block + "." + typ.Field(i).Name
			t.Run(field, func(t *testing.T) {
				next := *base
				f := reflect.ValueOf(&next).Elem().FieldByName(block).Field(i)
				if !perturb(f) {
					t.Fatalf("test cannot change a %s; teach it", f.Kind())
				}
				if got := needsRestart(base, &next); len(got) != 1 {
					t.Errorf("needsRestart after changing %s = %q, want that one setting", field, got)
				}
			})
		}
	}
	t.Run("names", func(t *testing.T) {
		next := *base
		next.WebUI.Port = 10001
		next.Sampling.Interval = time.Second
		next.Uploads.PipArgs = []string{"--no-index"}
		next.User = &config.User{Name: "someone", UID: 4242, GID: 4242}
		next.Venv, next.Restart.Delay = "/venv", time.Minute // applied, not listed
		want := []string{"web_ui.port", "sampling.interval_seconds", "pip_args", "user"}
		if got := needsRestart(base, &next); !slices.Equal(got, want) {
			t.Errorf("needsRestart = %q, want %q", got, want)
		}
	})
}

func TestEffectiveConfigKeepsStartSettings(t *testing.T) {
	old := config.Default(t.TempDir())
	next := *old
	next.WebUI.Port, next.Logging.Backups, next.Sampling.History, next.Uploads.MaxFiles = 1, 9, 9, 9
	next.Cwd, next.Restart.Delay = "/srv", time.Minute
	next.User = &config.User{Name: "someone", UID: 4242, GID: 4242}
	eff := effectiveConfig(old, &next)
	if eff.WebUI.Port != old.WebUI.Port || eff.Logging != old.Logging || eff.Sampling != old.Sampling ||
		eff.Uploads.MaxFiles != old.Uploads.MaxFiles || eff.User != old.User {
		t.Errorf("effectiveConfig took settings read once at start from the new file: %+v", eff)
	}
	if eff.Cwd != "/srv" || eff.Restart.Delay != time.Minute {
		t.Errorf("effectiveConfig: cwd %q, restart delay %s; want the new file's /srv and 1m", eff.Cwd, eff.Restart.Delay)
	}
}
