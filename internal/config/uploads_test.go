package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles writes process_manager.yaml and uploaded_programs.yaml ("" = absent) into a temp dir.
func writeFiles(t *testing.T, main, uploaded string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if uploaded != "" {
		if err := os.WriteFile(filepath.Join(dir, UploadedFileName), []byte(uploaded), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestLoadUploaded(t *testing.T) {
	tests := []struct {
		name     string
		uploaded string
		want     []string // names of uploaded programs
		errs     []string // substrings of the error, if any
	}{
		{name: "no file", want: nil},
		{name: "programs key", uploaded: "programs:\n  - {name: up, script: main.py, cwd: /srv/up}\n", want: []string{"up"}},
		{name: "bare list", uploaded: "- {name: up, script: main.py}\n- {name: up2, script: main.py}\n", want: []string{"up", "up2"}},
		{name: "empty", uploaded: "# nothing\n", want: nil},
		{name: "clash with config", uploaded: "programs:\n  - {name: conf, script: main.py}\n",
			errs: []string{UploadedFileName + ":2", `uploaded program "conf" has the name of a program defined in`}},
		{name: "log name clash", uploaded: "programs:\n  - {name: Conf, script: main.py}\n",
			errs: []string{UploadedFileName + ":2", "same log file name"}},
		{name: "unknown key", uploaded: "programs:\n  - {name: up, scirpt: main.py}\n",
			errs: []string{UploadedFileName + ":2", `did you mean "script"`}},
		{name: "a key pyvisor would not write back", uploaded: "programs:\n  - {name: up, script: main.py, environment: [A=1]}\n",
			errs: []string{UploadedFileName + ":2", `unknown key "environment"`}},
		{name: "bad yaml", uploaded: "programs: [\n", errs: []string{UploadedFileName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFiles(t, "programs:\n  - {name: conf, script: a.py}\n", tt.uploaded)
			c, err := Load(path)
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("Load with %s:\n%s\nsucceeded, want an error", UploadedFileName, tt.uploaded)
				}
				for _, e := range tt.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error %q lacks %q", err, e)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, p := range c.Programs {
				if p.Uploaded {
					got = append(got, p.Name)
				}
			}
			if !reflect.DeepEqual(got, tt.want) || c.Programs[0].Name != "conf" || c.Programs[0].Uploaded {
				t.Errorf("uploaded programs = %v (all: %+v), want %v after the configured one", got, c.Programs, tt.want)
			}
		})
	}
}

func TestMarshalUploadedRoundTrip(t *testing.T) {
	path := writeFiles(t, "restart: {delay_seconds: 3}\n", "")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := c.NewProgram("My App", "main.py")
	p.Args, p.Enabled, p.Cwd, p.Venv = []string{"--port", "80 80"}, false, "/srv/up/My_App", "/srv/up/My_App/.venv"
	p.Group = "Uploaded apps"
	data, err := MarshalUploaded([]Program{p})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.UploadedPath(), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatalf("Load of what MarshalUploaded wrote:\n%s\n%v", data, err)
	}
	if len(c2.Programs) != 1 {
		t.Fatalf("programs = %+v, want the one uploaded", c2.Programs)
	}
	got := c2.Programs[0]
	p.Uploaded, p.Line = true, got.Line
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
	}
}
