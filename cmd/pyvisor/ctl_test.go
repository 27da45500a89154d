package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// cliResult is what one in-process run of a command gave.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// cli runs pyvisor's command line in this process.
func cli(args ...string) cliResult {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

// linesPy prints 50 numbered lines, then idles.
const linesPy = "import time\nfor i in range(1, 51):\n    print(f'line {i}')\nwhile True:\n    time.sleep(3600)\n"

// apiPrograms is GET /api/programs decoded loosely, for comparisons.
func apiPrograms(t *testing.T, base string) []map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/api/programs", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(bearerFromEnv(req))
	if err != nil {
		t.Fatalf("GET /api/programs: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Programs []map[string]any `json:"programs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /api/programs: decode: %v", err)
	}
	return body.Programs
}

// apiProgram returns one program of GET /api/programs by name.
func apiProgram(t *testing.T, base, name string) map[string]any {
	t.Helper()
	for _, p := range apiPrograms(t, base) {
		if p["name"] == name {
			return p
		}
	}
	t.Fatalf("GET /api/programs has no %q", name)
	return nil
}

// pidOf is a program's pid as the API shows it, or 0.
func pidOf(p map[string]any) int {
	if f, ok := p["pid"].(float64); ok {
		return int(f)
	}
	return 0
}

// tableCells splits the status table into rows of cells by the offsets of the header's column names.
func tableCells(t *testing.T, table string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	cols := []string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM"}
	var offs []int
	for _, c := range cols {
		offs = append(offs, strings.Index(lines[0], c))
	}
	rows := map[string][]string{}
	for _, line := range lines[1:] {
		var cells []string
		for i, off := range offs {
			end := len(line)
			if i+1 < len(offs) {
				end = offs[i+1]
			}
			if off > len(line) || (i > 0 && line[off-1] != ' ') || line[off] == ' ' {
				t.Fatalf("status table: column %s is not aligned in line %q\n%s", cols[i], line, table)
			}
			cells = append(cells, strings.TrimSpace(line[off:min(end, len(line))]))
		}
		rows[cells[0]] = cells
	}
	return rows
}

// TestClientCommands runs every client command against a real manager with a
// few Python programs.
func TestClientCommands(t *testing.T) {
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
sampling: {interval_seconds: 0.2}
programs:
  - {name: lines, script: lines.py}
  - {name: two words, script: sleeper.py}
  - {name: idle, script: sleeper.py, enabled: false}
  - {name: missing, script: nope.py}
`, port))
	testkit.WriteFile(t, filepath.Join(dir, "lines.py"), linesPy)
	startManager(t, dir)
	waitPrograms(t, dir, "lines", "two words")
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	logPath := filepath.Join(dir, "log", "lines.log")
	waitFileContains(t, logPath, "line 50\n")

	t.Run("status table", func(t *testing.T) {
		r := cli("status", "--url", url)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("status: %v; want exit 0", r)
		}
		rows := tableCells(t, r.stdout)
		pid := pidOf(apiProgram(t, url, "lines"))
		got := rows["lines"]
		if len(got) != 7 || got[1] != "running" || got[2] != fmt.Sprint(pid) || got[4] != "0" ||
			!regexp.MustCompile(`^\d+(s|m\d+s)$`).MatchString(got[3]) || !regexp.MustCompile(`^\d+\.\d%$`).MatchString(got[5]) ||
			!regexp.MustCompile(`^(-|\d+\.\d (KiB|MiB))$`).MatchString(got[6]) {
			t.Errorf("status: row of lines = %q, want running, pid %d, an uptime, 0 restarts, CPU and memory\n%s", got, pid, r.stdout)
		}
		for name, want := range map[string][]string{
			"idle":    {"idle", "stopped", "-", "-", "0", "-", "-"},
			"missing": {"missing", "error", "-", "-", "0", "-", "-"},
		} {
			if !reflect.DeepEqual(rows[name], want) {
				t.Errorf("status: row of %s = %q, want %q\n%s", name, rows[name], want, r.stdout)
			}
		}
		if got := rows["two words"]; len(got) < 2 || got[1] != "running" {
			t.Errorf("status: row of two words = %q, want running\n%s", got, r.stdout)
		}
	})

	t.Run("status --json", func(t *testing.T) {
		r := cli("status", "-json", "-url", url)
		if r.code != 0 {
			t.Fatalf("status --json: %v; want exit 0", r)
		}
		var got struct {
			Title    string           `json:"title"`
			Programs []map[string]any `json:"programs"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("status --json printed invalid JSON: %v\n%s", err, r.stdout)
		}
		want := apiPrograms(t, url)
		// What changes from one moment to the next is left out.
		for _, list := range [][]map[string]any{got.Programs, want} {
			for _, p := range list {
				for _, k := range []string{"uptime_seconds", "cpu_percent", "cpu_history", "memory_rss_bytes"} {
					delete(p, k)
				}
			}
		}
		if got.Title != "Process Manager" || !reflect.DeepEqual(got.Programs, want) {
			t.Errorf("status --json = %s\nwant the content of GET /api/programs %v", r.stdout, want)
		}
	})

	t.Run("logs -n", func(t *testing.T) {
		r := cli("logs", "lines", "-n", "3", "--url", url)
		if want := "line 48\nline 49\nline 50\n"; r.code != 0 || r.stdout != want {
			t.Errorf("logs lines -n 3: %v; want exit 0 and %q", r, want)
		}
		r = cli("logs", "--url", url, "lines")
		if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != defaultLogLines || !strings.HasPrefix(r.stdout, "line 31\n") {
			t.Errorf("logs lines: %v; want exit 0 and the last %d lines", r, defaultLogLines)
		}
	})

	t.Run("logs of an unknown program", func(t *testing.T) {
		r := cli("logs", "nosuch", "--url", url)
		if want := `no program named "nosuch"; known programs: lines, two words, idle, missing`; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("logs nosuch: %v; want exit 1 and %q", r, want)
		}
	})

	t.Run("logs -f", func(t *testing.T) { testLogsFollow(t, url, logPath) })

	t.Run("stop, start, restart NAME", func(t *testing.T) {
		r := cli("stop", "two words", "--url", url)
		if r.code != 0 || r.stdout != "two words: stopped\n" {
			t.Fatalf("stop 'two words': %v; want exit 0 and %q", r, "two words: stopped\n")
		}
		if p := apiProgram(t, url, "two words"); p["state"] != "stopped" || len(ourPrograms(t, dir)["two words"]) != 0 {
			t.Errorf("after stop 'two words': API state %v, processes %v; want stopped, none", p["state"], ourPrograms(t, dir)["two words"])
		}
		r = cli("start", "--url", url, "two words")
		pid := pidOf(apiProgram(t, url, "two words"))
		if want := fmt.Sprintf("two words: running (pid %d)\n", pid); r.code != 0 || pid == 0 || r.stdout != want {
			t.Fatalf("start 'two words': %v; want exit 0 and %q", r, want)
		}
		r = cli("restart", "two words", "--url", url)
		newPID := pidOf(apiProgram(t, url, "two words"))
		if want := fmt.Sprintf("two words: running (pid %d)\n", newPID); r.code != 0 || newPID == pid || r.stdout != want {
			t.Errorf("restart 'two words' (pid %d): %v; want exit 0 and %q with a new pid", pid, r, want)
		}
	})

	t.Run("unknown name among known ones", func(t *testing.T) {
		r := cli("stop", "idle", "nosuch", "--url", url)
		want := `pyvisor stop: no program named "nosuch"; known programs: lines, two words, idle, missing`
		if r.code != 1 || r.stdout != "idle: stopped\n" || strings.TrimSpace(r.stderr) != want {
			t.Errorf("stop idle nosuch: %v; want exit 1, idle stopped and %q", r, want)
		}
	})

	t.Run("all", func(t *testing.T) {
		r := cli("start", "all", "--url", url)
		// missing cannot start: the others are reported started, and the exit is 1.
		for _, name := range []string{"lines", "two words", "idle"} {
			pid := pidOf(apiProgram(t, url, name))
			if want := fmt.Sprintf("%s: running (pid %d)\n", name, pid); pid == 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("start all: %v; want %q", r, want)
			}
		}
		if want := filepath.Join(dir, "nope.py"); r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("start all: %v; want exit 1 and the missing script %s named", r, want)
		}
		r = cli("stop", "all", "--url", url)
		if r.code != 0 || strings.Count(r.stdout, ": stopped\n") != 3 || !strings.Contains(r.stdout, "missing: error: ") {
			t.Errorf("stop all: %v; want exit 0, three programs stopped and missing in error", r)
		}
		if left := ourPrograms(t, dir); len(left) != 0 {
			t.Errorf("after stop all these programs still run: %v", left)
		}
	})

	t.Run("reload", func(t *testing.T) {
		r := cli("reload", "--url", url)
		if r.code != 0 || !strings.Contains(r.stdout, "nothing changed") {
			t.Errorf("reload of an unchanged file: %v; want exit 0 and nothing changed", r)
		}
		// An invalid file: the manager's report is printed and nothing changes.
		cfgPath := filepath.Join(dir, "process_manager.yaml")
		good, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, cfgPath, string(good)+"  - {name: no script}\n")
		r = cli("reload", "--url", url)
		testkit.WriteFile(t, cfgPath, string(good)) // the subtests below read the file
		if want := `missing required field "script"`; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("reload of an invalid file: %v; want exit 1 and the report, with %q", r, want)
		}
		if names := apiPrograms(t, url); len(names) != 4 {
			t.Errorf("after a rejected reload the manager lists %d programs, want the 4 it had", len(names))
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		dead := "http://127.0.0.1:" + fmt.Sprint(testkit.FreePort(t))
		r := cli("status", "--url", dead)
		if r.code != 3 || !strings.Contains(r.stderr, dead) || !strings.Contains(r.stderr, "from --url") {
			t.Errorf("status --url %s: %v; want exit 3 naming the URL and --url", dead, r)
		}
		t.Setenv("PYVISOR_URL", dead)
		r = cli("stop", "all")
		if r.code != 3 || !strings.Contains(r.stderr, dead) || !strings.Contains(r.stderr, "from PYVISOR_URL") {
			t.Errorf("stop all with PYVISOR_URL=%s: %v; want exit 3 naming the URL and PYVISOR_URL", dead, r)
		}
		r = cli("status", "--url", url)
		if r.code != 0 {
			t.Errorf("status --url %s with PYVISOR_URL=%s: %v; want --url to win", url, dead, r)
		}
		r = cli("status", "-c", filepath.Join(dir, "process_manager.yaml"))
		if r.code != 0 {
			t.Errorf("status -c FILE with PYVISOR_URL=%s: %v; want the file named by -c to win", dead, r)
		}
	})

	t.Run("PYVISOR_URL", func(t *testing.T) {
		t.Setenv("PYVISOR_URL", url)
		if r := cli("status"); r.code != 0 || !strings.Contains(r.stdout, "two words") {
			t.Errorf("status with PYVISOR_URL=%s: %v; want the table", url, r)
		}
	})

	t.Run("address from ./process_manager.yaml", func(t *testing.T) {
		t.Chdir(dir)
		if r := cli("status"); r.code != 0 || !strings.Contains(r.stdout, "two words") {
			t.Errorf("status in the project directory: %v; want the table", r)
		}
		if r := cli("-c", "process_manager.yaml", "status"); r.code != 0 || !strings.Contains(r.stdout, "two words") {
			t.Errorf("-c process_manager.yaml status: %v; want the table", r)
		}
	})
}

// testLogsFollow runs `pyvisor logs -f` as a process, checks it prints the
// last lines and then a line written afterwards, and that Ctrl+C ends it with
// exit status 0.
func testLogsFollow(t *testing.T, url, logPath string) {
	cmd := exec.Command(binary(t), "logs", "lines", "-n", "2", "-f", "--url", url)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	next := func(timeout <-chan time.Time) (string, bool) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended; printed %q, stderr %s", got, stderr.String())
			}
			got = append(got, l)
			return l, true
		case <-timeout:
			return "", false
		}
	}
	deadline := time.After(30 * time.Second)
	for len(got) < 2 {
		if _, ok := next(deadline); !ok {
			t.Fatalf("logs -f: printed %q, want the last 2 lines first; stderr %s", got, stderr.String())
		}
	}
	if got[0] != "line 49" || got[1] != "line 50" {
		t.Fatalf("logs -f -n 2 began with %q, want line 49, line 50", got)
	}
	// The stream follows from the end of the lines it began with: a line
	// appended now is the very next one printed, once.
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "appended\n")
	f.Close()
	if l, ok := next(deadline); !ok || l != "appended" {
		t.Fatalf("logs -f -n 2: printed %q after the last 2 lines, want the appended line; stderr %s", got, stderr.String())
	}
	if l, ok := next(time.After(300 * time.Millisecond)); ok {
		t.Errorf("logs -f -n 2: printed %q after the appended line, want nothing more (all printed: %q)", l, got)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("logs -f after SIGINT: %v, want exit status 0; stderr %s", err, stderr.String())
	}
}

// waitFileContains waits until the file at path holds s.
func waitFileContains(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(s)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q; it holds %q", path, s, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInstancesByName checks that NAME of a program with instances addresses every copy in start, stop,
// restart and status, and that a copy can be addressed alone.
func TestInstancesByName(t *testing.T) {
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: w, script: sleeper.py, instances: 3}
  - {name: other, script: sleeper.py}
`, port))
	startManager(t, dir)
	waitPrograms(t, dir, "w:1", "w:2", "w:3", "other")
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	r := cli("stop", "w", "--url", url)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("stop w: %v; want exit 0 and a line for each of the 3 copies", r)
	}
	for _, name := range []string{"w:1", "w:2", "w:3"} {
		if p := apiProgram(t, url, name); p["state"] != "stopped" {
			t.Errorf("after stop w: %s is %v, want stopped", name, p["state"])
		}
	}
	if p := apiProgram(t, url, "other"); p["state"] != "running" {
		t.Errorf("after stop w: other is %v, want running", p["state"])
	}
	if r := cli("start", "w:2", "--url", url); r.code != 0 {
		t.Fatalf("start w:2: %v", r)
	}
	if p := apiProgram(t, url, "w:1"); p["state"] != "stopped" {
		t.Errorf("after start w:2: w:1 is %v, want stopped", p["state"])
	}
	r = cli("status", "w", "--url", url)
	rows := tableCells(t, r.stdout)
	if r.code != 0 || len(rows) != 3 || rows["w:2"][1] != "running" || rows["w:1"][1] != "stopped" || rows["other"] != nil {
		t.Errorf("status w: %v; want the three copies only, w:2 running", r)
	}
	if r := cli("restart", "w", "--url", url); r.code != 0 {
		t.Fatalf("restart w: %v", r)
	}
	for _, name := range []string{"w:1", "w:2", "w:3"} {
		if p := apiProgram(t, url, name); p["state"] != "running" {
			t.Errorf("after restart w: %s is %v, want running", name, p["state"])
		}
	}
	if r := cli("status", "nope", "--url", url); r.code != exitFailed || !strings.Contains(r.stderr, `no program named "nope"`) {
		t.Errorf("status nope: %v; want exit 1 naming it", r)
	}
}
