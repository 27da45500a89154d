package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// reloadConfig is a config for the reload tests: one running program, one
// disabled, one to be removed.
const reloadConfig = `
programs:
  - {name: sleeper, script: sleeper.py}
  - {name: "My App", script: sleeper.py, enabled: false}
  - {name: doomed, script: sleeper.py, enabled: false}
`

// withReload rebuilds the fixture's handler with the Reload function the
// manager passes in: load the fixture's file, then apply it.
func (f *fixture) withReload() *fixture {
	f.h = NewHandler(Options{Supervisor: f.sup, Title: "reload", Reload: f.reload})
	return f
}

// reload loads the fixture's config file again and applies it, as cmd does.
func (f *fixture) reload(ctx context.Context) (supervisor.ReloadResult, error) {
	cfg, err := config.Load(filepath.Join(f.dir, "process_manager.yaml"))
	if err != nil {
		return supervisor.ReloadResult{}, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	return f.sup.Reload(ctx, cfg)
}

// writeConfig replaces the fixture's config file.
func (f *fixture) writeConfig(t testing.TB, yaml string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "process_manager.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reloadJSON is the body of POST /api/reload as a client decodes it.
type reloadJSON struct {
	Added        []string `json:"added"`
	Removed      []string `json:"removed"`
	Changed      []string `json:"changed"`
	NeedsRestart []string `json:"needs_restart"`
}

func TestReloadNotAvailable(t *testing.T) {
	f := newFixture(t, reloadConfig)
	r := f.do(t, "POST", "/api/reload", nil)
	if r.status != http.StatusNotImplemented || decode[api.Error](t, "POST /api/reload", r).Error == "" {
		t.Errorf("POST /api/reload without Options.Reload = %d %s, want 501 with a JSON error", r.status, r.body)
	}
	if list := f.do(t, "GET", "/api/programs", nil); !strings.Contains(list.body, `"reload":false`) {
		t.Errorf("GET /api/programs without Options.Reload: %s; want \"reload\":false", list.body)
	}
}

func TestReloadAPI(t *testing.T) {
	f := newFixture(t, reloadConfig).withReload()
	sleeper := f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	if list := f.do(t, "GET", "/api/programs", nil); !strings.Contains(list.body, `"reload":true`) {
		t.Errorf("GET /api/programs with Options.Reload: %s; want \"reload\":true", list.body)
	}
	names := func() []string {
		var out []string
		for _, p := range decode[programList](t, "GET /api/programs", f.do(t, "GET", "/api/programs", nil)).Programs {
			out = append(out, p.Name)
		}
		return out
	}

	t.Run("invalid file changes nothing", func(t *testing.T) {
		f.writeConfig(t, `
web_ui: {port: 70000}
programs:
  - {name: sleeper, script: sleeper.py, scirpt: x}
  - {name: extra, script: sleeper.py}
`)
		r := f.do(t, "POST", "/api/reload", nil)
		msg := decode[api.Error](t, "POST /api/reload", r).Error
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("POST /api/reload with an invalid file = %d %s, want 422", r.status, r.body)
		}
		for _, want := range []string{"process_manager.yaml:2: web_ui.port: 70000 is out of range",
			"process_manager.yaml:4: programs[0].scirpt: unknown key", `did you mean "script"`} {
			if !strings.Contains(msg, want) {
				t.Errorf("POST /api/reload with an invalid file: error %q lacks %q", msg, want)
			}
		}
		if got, want := names(), []string{"sleeper", "My App", "doomed"}; !slices.Equal(got, want) {
			t.Errorf("programs after a refused reload: %q, want %q", got, want)
		}
		if st, _ := f.sup.Status("sleeper"); st.PID != sleeper.PID {
			t.Errorf("sleeper after a refused reload: pid %d, want %d", st.PID, sleeper.PID)
		}
	})

	t.Run("valid file is applied", func(t *testing.T) {
		f.writeConfig(t, `
web_ui: {title: "New title"}
programs:
  - {name: sleeper, script: sleeper.py}
  - {name: "My App", script: sleeper.py, enabled: false, args: [x]}
  - {name: added, script: sleeper.py}
`)
		r := f.do(t, "POST", "/api/reload", nil)
		if r.status != http.StatusOK {
			t.Fatalf("POST /api/reload = %d %s, want 200", r.status, r.body)
		}
		got := decode[reloadJSON](t, "POST /api/reload", r)
		want := reloadJSON{Added: []string{"added"}, Removed: []string{"doomed"}, Changed: []string{"My App"},
			NeedsRestart: []string{"web_ui.title"}}
		if !slices.Equal(got.Added, want.Added) || !slices.Equal(got.Removed, want.Removed) ||
			!slices.Equal(got.Changed, want.Changed) || !slices.Equal(got.NeedsRestart, want.NeedsRestart) {
			t.Errorf("POST /api/reload = %+v, want %+v", got, want)
		}
		if got, want := names(), []string{"sleeper", "My App", "added"}; !slices.Equal(got, want) {
			t.Errorf("programs after the reload: %q, want %q", got, want)
		}
		f.waitFor(t, "added", "running", inState(supervisor.Running))
		if st, _ := f.sup.Status("sleeper"); st.PID != sleeper.PID {
			t.Errorf("sleeper (unchanged) after the reload: pid %d, want %d", st.PID, sleeper.PID)
		}
	})

	t.Run("no change answers empty lists", func(t *testing.T) {
		r := f.do(t, "POST", "/api/reload", nil)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.body), &raw); err != nil || r.status != http.StatusOK {
			t.Fatalf("POST /api/reload = %d %s, want 200 with JSON", r.status, r.body)
		}
		for _, k := range []string{"added", "removed", "changed"} {
			if string(raw[k]) != "[]" {
				t.Errorf("POST /api/reload of an unchanged file: %s = %s, want []", k, raw[k])
			}
		}
	})

	t.Run("refused from another site", func(t *testing.T) {
		r := f.do(t, "POST", "/api/reload", nil, "Origin", "http://evil.example")
		if r.status != http.StatusForbidden {
			t.Errorf("POST /api/reload with a foreign Origin = %d %s, want 403", r.status, r.body)
		}
	})
}

func TestReloadResultJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  supervisor.ReloadResult
		want string
	}{
		{"empty lists are arrays", supervisor.ReloadResult{},
			`{"added":[],"removed":[],"changed":[],"needs_restart":[]}`},
		{"names", supervisor.ReloadResult{Added: []string{"a"}, Changed: []string{"b", "c"}, NeedsRestart: []string{"web_ui.port"}},
			`{"added":["a"],"removed":[],"changed":["b","c"],"needs_restart":["web_ui.port"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(newReloadResult(tc.res))
			if err != nil || string(got) != tc.want {
				t.Errorf("json.Marshal(newReloadResult(%+v)) = %s, %v; want %s", tc.res, got, err, tc.want)
			}
		})
	}
}
