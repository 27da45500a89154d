package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportLayout keeps data flowing one way (see docs/development.md): each
// package may import only the packages of ours listed for it.
func TestImportLayout(t *testing.T) {
	const mod = "github.com/pyvisor/pyvisor/"
	allowed := map[string][]string{
		"cmd/pyvisor":         {"internal/config", "internal/supervisor", "internal/install", "internal/web", "internal/auth", "internal/client", "internal/api", "internal/sdnotify", "internal/memtune", "internal/export", "internal/notify"},
		"internal/notify":     {"internal/config", "internal/supervisor"},
		"internal/export":     {"internal/config"},
		"internal/web":        {"internal/supervisor", "internal/install", "internal/logfile", "internal/auth", "internal/proc", "internal/api"},
		"internal/auth":       {"internal/atomicfile", "internal/passhash"},
		"internal/supervisor": {"internal/config", "internal/proc", "internal/logfile", "internal/statefile", "internal/atomicfile", "internal/eventlog", "internal/probe"},
		"internal/eventlog":   {"internal/atomicfile"},
		"internal/probe":      {"internal/proc"},
		"internal/install":    {},
		"internal/config":     {"internal/passhash"},
		"internal/passhash":   {},
		"internal/proc":       {},
		"internal/logfile":    {},
		"internal/statefile":  {"internal/atomicfile"},
		"internal/atomicfile": {},
		"internal/memtune":    {},
		"internal/client":     {"internal/api"},
		"internal/api":        {},
		"internal/sdnotify":   {},
		// helpers for tests, imported by _test.go files only; statefile's own tests
		// therefore cannot use testkit.
		"internal/testkit": {"internal/statefile"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if slices.Contains(fields[1:], mod+"internal/testkit") {
			t.Errorf("%s imports internal/testkit outside its tests; it holds helpers for tests only", pkg)
		}
		allow, known := allowed[pkg]
		if !known {
			if !strings.HasPrefix(pkg, "bench") {
				t.Errorf("package %s is not in the layout table of this test (and docs/development.md)", pkg)
			}
			continue
		}
		for _, imp := range fields[1:] {
			ours, ok := strings.CutPrefix(imp, mod)
			if ok && !slices.Contains(allow, ours) {
				t.Errorf("%s imports %s; allowed: %v", pkg, ours, allow)
			}
		}
	}
}
