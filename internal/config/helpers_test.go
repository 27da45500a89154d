package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// testHome stands in for the user's home directory, so tests do not depend on $HOME.
const testHome = "/home/tester"

// writeFile writes content to name inside dir and returns the file's path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	testkit.WriteFile(t, path, content)
	return path
}

// loadYAML writes content as process_manager.yaml in a new temporary directory and loads it with
// testHome as the home directory. It returns the file's path too.
func loadYAML(t *testing.T, content string) (*Config, string, error) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "process_manager.yaml", content)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := load(path, data, testHome)
	return c, path, err
}

// mustLoad is loadYAML for content that must be valid.
func mustLoad(t *testing.T, content string) *Config {
	t.Helper()
	c, _, err := loadYAML(t, content)
	if err != nil {
		t.Fatalf("load(%q) failed: %v", content, err)
	}
	return c
}

// problems returns the *Error values joined in err, failing the test on anything else.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	out := make([]*Error, 0, len(errs))
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q (%T) is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

// wantErr describes one expected problem: its exact line and substrings of its field and message.
type wantErr struct {
	line  int
	field string
	msg   string
}

func (w wantErr) matches(e *Error) bool {
	return e.Line == w.line && strings.Contains(e.Field, w.field) && strings.Contains(e.Msg, w.msg)
}

// checkProblems asserts that err holds exactly the wanted problems, all in file.
func checkProblems(t *testing.T, call string, err error, file string, want []wantErr) {
	t.Helper()
	got := problems(t, err)
	if len(got) != len(want) {
		t.Errorf("%s: got %d problems, want %d:\n%v", call, len(got), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, e := range got {
			if w.matches(e) && (file == "" || e.File == file) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no problem at line %d with field ~%q and message ~%q in:\n%v", call, w.line, w.field, w.msg, err)
		}
	}
}
