package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []EnvVar
		badLine []int
	}{
		{"empty", "", nil, nil},
		{"comments and blanks", "# c\n\n   \n  # indented\nA=1\n", []EnvVar{{"A", "1"}}, nil},
		{"export prefix", "export A=1\nexport\tB=2\nexported=3\n", []EnvVar{{"A", "1"}, {"B", "2"}, {"exported", "3"}}, nil},
		{"quotes removed when matching", `A="x y"` + "\nB='z'\nC=\"mixed'\nD=\"\"\n",
			[]EnvVar{{"A", "x y"}, {"B", "z"}, {"C", "\"mixed'"}, {"D", ""}}, nil},
		{"values keep = and #", "URL=a=b#c\n", []EnvVar{{"URL", "a=b#c"}}, nil},
		{"blanks around key and value", "  A = 1 \n", []EnvVar{{"A", "1"}}, nil},
		{"CRLF lines", "A=1\r\nB=2\r\n", []EnvVar{{"A", "1"}, {"B", "2"}}, nil},
		{"empty value", "A=\n", []EnvVar{{"A", ""}}, nil},
		{"line without =", "A=1\nJUSTAKEY\nB=2\n", []EnvVar{{"A", "1"}, {"B", "2"}}, []int{2}},
		{"empty key", "=1\n", nil, []int{1}},
		{"blank in key", "MY KEY=1\n", nil, []int{1}},
		{"several bad lines", "x\n\ny\nA=1\n", []EnvVar{{"A", "1"}}, []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := parseEnvFile([]byte(tt.in))
			var lines []int
			for _, b := range bad {
				lines = append(lines, b.line)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(lines, tt.badLine) {
				t.Errorf("parseEnvFile(%q) = %q, bad lines %v; want %q, bad lines %v", tt.in, got, lines, tt.want, tt.badLine)
			}
		})
	}
}

// TestEnvFileErrors checks that env file problems name the env file, its line and the program, or the
// absolute path when the file cannot be read.
func TestEnvFileErrors(t *testing.T) {
	t.Run("bad line in program env file", func(t *testing.T) {
		dir := t.TempDir()
		envPath := writeFile(t, dir, "app.env", "A=1\n\nNOEQUALS\n")
		path := writeFile(t, dir, "pm.yaml", "programs:\n  - name: worker\n    script: w.py\n    env_file: app.env\n")
		_, err := Load(path)
		checkProblems(t, "Load(env_file with a bad line)", err, envPath,
			[]wantErr{{3, "programs[0].env_file", `env_file of program "worker"`}})
		if err != nil && strings.Contains(err.Error(), "A=1") {
			t.Errorf("Load(env_file with a bad line) error shows env file content: %v", err)
		}
	})
	t.Run("bad line in global env file", func(t *testing.T) {
		dir := t.TempDir()
		envPath := writeFile(t, dir, "sub/common.env", "=x\n")
		path := writeFile(t, dir, "pm.yaml", "env_file: sub/common.env\n")
		_, err := Load(path)
		checkProblems(t, "Load(global env_file with a bad line)", err, envPath,
			[]wantErr{{1, "env_file", "empty variable name (the global env_file)"}})
	})
	t.Run("missing env file", func(t *testing.T) {
		dir := t.TempDir()
		path := writeFile(t, dir, "pm.yaml", "programs:\n  - name: worker\n    script: w.py\n\n    env_file: missing.env\n")
		_, err := Load(path)
		checkProblems(t, "Load(missing env_file)", err, path,
			[]wantErr{{5, "programs[0].env_file", filepath.Join(dir, "missing.env") + ": stat: no such file"}})
		// Only a missing config file itself may look like "no config file" to the caller.
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(missing env_file) error %v matches fs.ErrNotExist; want it not to", err)
		}
	})
	t.Run("env file is a FIFO", func(t *testing.T) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "fifo.env")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		path := writeFile(t, dir, "pm.yaml", "env_file: fifo.env\n")
		_, err := Load(path)
		checkProblems(t, "Load(env_file is a FIFO)", err, path, []wantErr{{1, "env_file", "not a regular file"}})
	})
	t.Run("env file too large", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "big.env", strings.Repeat("A=1\n", maxEnvFileSize/4+1))
		path := writeFile(t, dir, "pm.yaml", "env_file: big.env\n")
		_, err := Load(path)
		checkProblems(t, "Load(env_file too large)", err, path, []wantErr{{1, "env_file", "larger than"}})
	})
}
