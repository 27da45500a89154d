package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process_manager.pids.json")
	want := State{Deployment: "d1e2", Path: path, Programs: map[string]Entry{
		"web":    {PID: 1234, StartTime: 98765, Desired: DesiredRunning, Run: "r1", Command: "c1"},
		"worker": {PID: 0, Desired: DesiredStopped, InstallFailed: "installation failed: pip install: exit status 1"},
		"upload": {Desired: DesiredRunning, Installing: true},
	}}
	if err := Save(path, want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load after Save = %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after Save, want only the state file: %v", len(entries), entries)
	}
}

// The deployment identity in the file must stay unreadable to other local users, also when the file was
// created 0644 by an earlier version.
func TestSavedFilesAreOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process_manager.pids.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "programs": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, State{Deployment: "secret"}); err != nil {
		t.Fatalf("Save: %v", err)
	}
	unlock, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer unlock()
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("after Save and Lock, %s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" = no file
		want    State
		corrupt bool
	}{
		{name: "missing file", want: State{Programs: map[string]Entry{}}},
		{name: "legacy flat form", content: `{"web": 42, "worker": 43}`,
			want: State{Programs: map[string]Entry{"web": {PID: 42, Desired: DesiredRunning}, "worker": {PID: 43, Desired: DesiredRunning}}}},
		{name: "empty desired means running", content: `{"version":1,"programs":{"a":{"pid":5,"start_time":7}}}`,
			want: State{Programs: map[string]Entry{"a": {PID: 5, StartTime: 7, Desired: DesiredRunning}}}},
		{name: "truncated json", content: `{"version":1,"programs":{"a":{"pid":`, corrupt: true},
		{name: "not json", content: "\x00\x01garbage", corrupt: true},
		{name: "future version", content: `{"version":99,"programs":{}}`, corrupt: true},
		{name: "negative pid", content: `{"version":1,"programs":{"a":{"pid":-3}}}`, corrupt: true},
		{name: "bad desired", content: `{"version":1,"programs":{"a":{"pid":3,"desired":"maybe"}}}`, corrupt: true},
		{name: "legacy with a string", content: `{"web": "x"}`, corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pids.json")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Load(path)
			if tt.corrupt {
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("Load(%q) error = %v, want a *CorruptError", tt.content, err)
				}
				if len(got.Programs) != 0 {
					t.Errorf("Load of a corrupt file returned programs %v, want none", got.Programs)
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("corrupt file still at %s (stat err %v), want it moved aside", path, err)
				}
				data, rerr := os.ReadFile(ce.SetAside)
				if rerr != nil || string(data) != tt.content {
					t.Errorf("set-aside file %s = %q, %v; want the original content %q", ce.SetAside, data, rerr, tt.content)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.content, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load(%q) = %+v, want %+v", tt.content, got, tt.want)
			}
		})
	}
}

func TestSaveIntoMissingDirFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "pids.json")
	if err := Save(path, State{}); err == nil {
		t.Fatalf("Save(%s) into a missing directory succeeded, want an error", path)
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("Save error %q does not name %s", err, path)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pids.json")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock while held = %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

// TestSaveMode: the state file is the manager's alone.
func TestSaveMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := Save(path, State{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("Save(%s): mode %v, want 0600", path, got)
	}
}
