package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInstances runs copies of a program, each with its number in PYVISOR_INSTANCE and in place of
// {instance}, and reloads with fewer and more copies: only the difference stops or starts, the others
// keep their processes.
func TestInstances(t *testing.T) {
	const yaml = `
programs:
  - name: w
    script: show.py
    args: ["--port", "80{instance}"]
    environment: {GREETING: "hello {instance}"}
    instances: %d
  - {name: other, script: sleeper.py}
`
	f := newFixture(t, fmt.Sprintf(yaml, 3))
	scriptShowsInstance(t, f)
	m := f.start()
	pids := map[string]int{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("w:%d", i)
		st := m.waitFor(t, name, "running", inState(Running))
		pids[name] = st.PID
		if st.InstanceOf != "w" || st.Instance != i {
			t.Errorf("%s: instance of %q, number %d; want w, %d", name, st.InstanceOf, st.Instance, i)
		}
		want := fmt.Sprintf("args=--port|80%d\n", i)
		waitLog(t, f, name, want)
		for _, line := range []string{fmt.Sprintf("GREETING=hello %d\n", i), fmt.Sprintf("INSTANCE=%d\n", i), "PROGRAM=" + name + "\n"} {
			if log := f.readLog(name); !strings.Contains(log, line) {
				t.Errorf("log of %s lacks %q:\n%s", name, line, log)
			}
		}
	}
	other := m.waitFor(t, "other", "running", inState(Running))

	res := m.reload(t, f, fmt.Sprintf(yaml, 2))
	wantResult(t, res, nil, []string{"w:3"}, nil, nil)
	if names := m.names(); !slices.Equal(names, []string{"w:1", "w:2", "other"}) {
		t.Errorf("after instances 3 -> 2: programs %q", names)
	}
	if alive(pids["w:3"]) {
		t.Errorf("w:3 (pid %d) still runs after instances 3 -> 2", pids["w:3"])
	}
	res = m.reload(t, f, fmt.Sprintf(yaml, 4))
	wantResult(t, res, []string{"w:3", "w:4"}, nil, nil, nil)
	m.waitFor(t, "w:4", "running", inState(Running))
	for _, name := range []string{"w:1", "w:2"} {
		if st, _ := m.sup.Status(name); st.PID != pids[name] {
			t.Errorf("%s: pid %d after the reloads, want %d undisturbed", name, st.PID, pids[name])
		}
	}
	if st, _ := m.sup.Status("other"); st.PID != other.PID {
		t.Errorf("other: pid %d after the reloads, want %d undisturbed", st.PID, other.PID)
	}
}

// scriptShowsInstance adds a line with PYVISOR_INSTANCE to show.py's output.
func scriptShowsInstance(t *testing.T, f *fixture) {
	t.Helper()
	src := strings.Replace(scripts["show.py"], `sys.stdout.flush()`,
		`print("INSTANCE=" + os.environ.get("PYVISOR_INSTANCE", ""))
sys.stdout.flush()`, 1)
	writeScript(t, f, "show.py", src)
}

// writeScript writes src as the fixture's script name.
func writeScript(t *testing.T, f *fixture, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the log of program name holds want.
func waitLog(t *testing.T, f *fixture, name, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(f.readLog(name), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log of %s lacks %q:\n%s", name, want, f.readLog(name))
		}
		time.Sleep(20 * time.Millisecond) // a log file gives nothing to wait on
	}
}
