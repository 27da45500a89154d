// Command bench measures pyvisor as a whole process, the way its users see it:
//
//		go run ./bench [-scenario all|idle|gap|flood|status|health] [-n 100] [-seconds 150] [-runs 50]
//		               [-check http|tcp|command] [-interval 10] [-baseline PATH]
//
//	  - idle:  start N idle Python programs; time until all run; then the manager's own
//	    RSS and CPU over -seconds with sampling on (default interval 2 s). The
//	    default window reaches past the collection the Go runtime forces every
//	    2 minutes, which maps back pages of the binary the manager released
//	    after start-up; a shorter one shows a resident size below the steady one.
//	    With -baseline PATH, a manager of that binary runs beside the current
//	    one with as many programs, measured over the same window.
//	  - gap:   restart gap with delay_seconds 0: time from a program's exit to the
//	    start of the next run, against the floor of spawning the interpreter directly.
//	  - flood: one program writing numbered lines, one write(2) each, as fast as it
//	    can, under pyvisor (logging: 10 MB, 3 backups) and, at the same time, the
//	    same program writing to a file with no manager, for -seconds (at most 60);
//	    lines missing from the retained files, both throughputs, the manager's CPU,
//	    the live file's peak size, the writers' longest stall; then the floor: a
//	    bare loop doing the same copies and collapses beside the same writer.
//	  - status: `pyvisor status` (and --json) run -runs times as a whole process
//	    against a manager with N idle programs; median and p90 wall time.
//	  - health: two managers with N idle programs each, side by side, one of them
//	    checking every program's health (-check kind, every -interval seconds);
//	    the CPU of each over the same -seconds, and of the same checks done by
//	    a bare loop (the floor); with -baseline, a third manager runs that
//	    binary with the same checks. Not part of "all".
//
// It builds pyvisor into a temporary directory and runs everything there on a
// free loopback port. Figures are printed; nothing is asserted.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	scenario := flag.String("scenario", "all", "all, idle, gap, flood, status or health")
	n := flag.Int("n", 100, "programs for the idle and status scenarios")
	runs := flag.Int("runs", 50, "runs of each command in the status scenario")
	seconds := flag.Int("seconds", 150, "measuring window for idle (flood uses at most 60: six log rotations)")
	python := flag.String("python", "", "interpreter the programs run with (default: the one python3 runs)")
	check := flag.String("check", "http", "the health check of the health scenario: http, tcp or command")
	interval := flag.Float64("interval", 10, "seconds between the health checks of a program in the health scenario")
	baseline := flag.String("baseline", "", "idle and health: a second pyvisor binary measured beside the current one, in the same window")
	flag.Parse()
	hc := healthOptions{kind: *check, interval: time.Duration(*interval * float64(time.Second))}
	if err := run(*scenario, *n, *runs, time.Duration(*seconds)*time.Second, *python, *baseline, hc); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// healthOptions are the flags of the health scenario.
type healthOptions struct {
	kind     string
	interval time.Duration
}

func run(scenario string, n, runs int, window time.Duration, python, baseline string, hc healthOptions) error {
	work, err := os.MkdirTemp("", "pyvisor-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "pyvisor")
	// Built as docs recommend for installing: without cgo, a static binary.
	build := exec.Command("go", "build", "-o", bin, "./cmd/pyvisor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	// Run the real interpreter, not a wrapper script such as a pyenv shim, so the
	// figures measure pyvisor rather than the wrapper.
	if err := preferRealPython(work, python); err != nil {
		return err
	}
	run := map[string]func() error{
		"idle":   func() error { return benchIdle(bin, baseline, work, n, window) },
		"gap":    func() error { return benchGap(bin, work) },
		"flood":  func() error { return benchFlood(bin, work, min(window, 60*time.Second)) },
		"status": func() error { return benchStatus(bin, work, n, runs) },
		"health": func() error { return benchHealth(bin, baseline, work, n, window, hc.kind, hc.interval) },
	}
	if scenario != "all" {
		f, ok := run[scenario]
		if !ok {
			return fmt.Errorf("unknown scenario %q", scenario)
		}
		return f()
	}
	for _, name := range []string{"idle", "gap", "flood", "status"} {
		if err := run[name](); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// preferRealPython puts a directory holding python3 -> the interpreter's real
// executable first on PATH, for the managers and the floor measurement alike.
func preferRealPython(work, python string) error {
	if python == "" {
		out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		if err != nil {
			return fmt.Errorf("find python3: %w", err)
		}
		python = strings.TrimSpace(string(out))
	}
	fmt.Printf("programs run with %s\n", python)
	dir := filepath.Join(work, "python-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(python, filepath.Join(dir, "python3")); err != nil {
		return err
	}
	return os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// project is a directory with a config, and a manager running on it.
type project struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

func newProject(base, name string, scripts map[string]string, yaml string) (*project, error) {
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for file, src := range scripts {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	yaml = fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\n", port) + yaml
	if err := os.WriteFile(filepath.Join(dir, "process_manager.yaml"), []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	return &project{dir: dir, port: port}, nil
}

func (p *project) start(bin string) error {
	p.cmd = exec.Command(bin)
	p.cmd.Dir = p.dir
	p.cmd.Stdout = nil
	p.cmd.Stderr = nil
	return p.cmd.Start()
}

// close stops the manager, then every program it ran (they outlive the manager by design).
func (p *project) close() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
	data, err := os.ReadFile(filepath.Join(p.dir, "process_manager.pids.json"))
	if err != nil {
		return
	}
	var st struct {
		Programs map[string]struct{ PID int } `json:"programs"`
	}
	json.Unmarshal(data, &st)
	for _, e := range st.Programs {
		if e.PID > 0 {
			syscall.Kill(-e.PID, syscall.SIGKILL)
		}
	}
}

type apiProgram struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	PID          *int   `json:"pid"`
	RestartCount int    `json:"restart_count"`
}

// get sends a GET of path to the manager, with the local token when the
// manager wrote one (it requires a login on loopback when it runs as root).
func (p *project) get(path string) (*http.Response, error) {
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path), nil)
	if err != nil {
		return nil, err
	}
	if token, err := os.ReadFile(filepath.Join(p.dir, "process_manager.token")); err == nil {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	return http.DefaultClient.Do(req)
}

func (p *project) programs() ([]apiProgram, error) {
	resp, err := p.get("/api/programs")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Programs []apiProgram `json:"programs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Programs, nil
}

// waitRunning polls the API until n programs run (each has reported its start in its log).
func (p *project) waitRunning(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		progs, err := p.programs()
		if err == nil {
			running := 0
			for _, pr := range progs {
				if pr.State == "running" {
					running++
				}
			}
			if running == n {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("fewer than %d programs running after %s", n, timeout)
}

// The gap program prints CLOCK_MONOTONIC (shared by all processes) as its first
// act and right before it exits.
const gapPy = `import time, sys
start = time.monotonic_ns()
print("start", start)
print("end", time.monotonic_ns(), flush=True)
sys.exit(1)
`

func benchGap(bin, work string) error {
	const runs = 200
	p, err := newProject(work, "gap", map[string]string{"gap.py": gapPy}, `
restart: {delay_seconds: 0, max_consecutive_failures: 0}
programs:
  - {name: gap, script: gap.py}
`)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.start(bin); err != nil {
		return err
	}
	logPath := filepath.Join(p.dir, "log", "gap.log")
	deadline := time.Now().Add(2 * time.Minute)
	var gaps []time.Duration
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		gaps, err = gapsFromLog(logPath)
		if err == nil && len(gaps) >= runs {
			break
		}
	}
	p.close()
	if len(gaps) < runs {
		return fmt.Errorf("only %d restarts seen", len(gaps))
	}

	// The floor: the same program run back to back by a plain loop that does
	// nothing but spawn and wait.
	floorLog := filepath.Join(p.dir, "floor.log")
	f, err := os.Create(floorLog)
	if err != nil {
		return err
	}
	script := filepath.Join(p.dir, "gap.py")
	for range runs + 1 {
		c := exec.Command("python3", script)
		c.Stdout, c.Stderr = f, f
		c.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
		c.Run()
	}
	f.Close()
	floor, err := gapsFromLog(floorLog)
	if err != nil {
		return err
	}
	mg, mf := median(gaps), median(floor)
	fmt.Printf("gap: restart gap (exit to next start, delay 0) median %.2f ms over %d restarts; spawn floor median %.2f ms; difference %.2f ms\n",
		ms(mg), len(gaps), ms(mf), ms(mg-mf))
	return nil
}

// gapsFromLog reads start/end lines and returns each end-to-next-start gap.
func gapsFromLog(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var gaps []time.Duration
	var lastEnd int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			continue
		}
		switch kind {
		case "start":
			if lastEnd != 0 {
				gaps = append(gaps, time.Duration(v-lastEnd))
			}
		case "end":
			lastEnd = v
		}
	}
	return gaps, sc.Err()
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func rssBytes(pid int) (uint64, error) { return statusBytes(pid, "VmRSS") }

// statusBytes reads a size field ("VmRSS", "RssAnon", "RssFile") of
// /proc/<pid>/status.
func statusBytes(pid int, field string) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.SortFunc(s, cmp.Compare)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
