package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// floodPy writes numbered lines, one write(2) each, as fast as it can. On
// SIGTERM it writes to flood.stats beside itself how many lines it wrote, the
// longest time between two of its writes (a write blocked by a rotation shows
// there) and how long it ran.
const floodPy = `import os, signal, time
stats = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flood.stats")
write, now = os.write, time.perf_counter
i, stall, start = 0, 0.0, now()
def stop(*_):
    with open(stats, "w") as f:
        f.write("%d %f %f\n" % (i, stall, now() - start))
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
last = now()
while True:
    write(1, b"%d\n" % i)
    i += 1
    t = now()
    if t - last > stall:
        stall = t - last
    last = t
`

// floodLimit and floodBackups are the logging settings of the flood scenario.
const (
	floodLimit   = 10 << 20
	floodBackups = 3
)

// floodStats is what floodPy reports.
type floodStats struct {
	lines   int
	stall   time.Duration
	elapsed time.Duration
}

func (s floodStats) rate() float64 { return float64(s.lines) / s.elapsed.Seconds() }

// benchFlood runs floodPy under pyvisor and, at the same time, with its output
// appended to a file and no manager, for window; then the floor: a bare loop
// doing the rotations' copies and collapses beside the same program.
func benchFlood(bin, work string, window time.Duration) error {
	p, err := newProject(work, "flood", map[string]string{"flood.py": floodPy},
		fmt.Sprintf("logging: {max_size_mb: %d, backups: %d}\nprograms:\n  - {name: flood, script: flood.py}\n", floodLimit>>20, floodBackups))
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.start(bin); err != nil {
		return err
	}
	if err := p.waitRunning(1, 30*time.Second); err != nil {
		return err
	}
	progs, err := p.programs()
	if err != nil || len(progs) != 1 || progs[0].PID == nil {
		return fmt.Errorf("flood program's PID: %v", err)
	}
	managed := *progs[0].PID
	bare, err := startBare(filepath.Join(work, "flood-bare"))
	if err != nil {
		return err
	}
	defer bare.Process.Kill()

	logPath := filepath.Join(p.dir, "log", "flood.log")
	pid := p.cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	var peak int64
	for time.Since(t0) < window {
		if fi, err := os.Stat(logPath); err == nil {
			peak = max(peak, fi.Size())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	// The manager first, so that it does not restart the program it sees end.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p.cmd = nil
	syscall.Kill(managed, syscall.SIGTERM)
	bare.Process.Signal(syscall.SIGTERM)
	bare.Wait()
	withManager, err := waitStats(p.dir)
	if err != nil {
		return err
	}
	alone, err := waitStats(bare.Dir)
	if err != nil {
		return err
	}
	missing, kept, err := checkFlood(logPath, withManager.lines)
	if err != nil {
		return err
	}
	fmt.Printf("flood: logging %d MiB x %d backups, %s, both writers at once, one write(2) per line:\n", floodLimit>>20, floodBackups, elapsed.Round(time.Second))
	fmt.Printf("flood:   pyvisor:    %.0f lines/s (%.1f%% of no manager), longest stall between writes %s; manager CPU %.2f%% of one core; live log peak %.1f MiB (%.2f x the limit); %d lines missing of the %d retained (lines %d..%d)\n",
		withManager.rate(), withManager.rate()/alone.rate()*100, withManager.stall.Round(time.Microsecond),
		float64(cpu1-cpu0)/float64(elapsed)*100, float64(peak)/(1<<20), float64(peak)/floodLimit,
		missing, kept, withManager.lines-kept, withManager.lines-1)
	fmt.Printf("flood:   no manager: %.0f lines/s, longest stall between writes %s\n",
		alone.rate(), alone.stall.Round(time.Microsecond))

	floor, err := bareLoopFloor(filepath.Join(work, "flood-floor"), floodLimit, floodBackups, min(window, 20*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: flood floor:", err)
		return nil
	}
	fmt.Printf("flood:   floor: a bare loop doing the same copy_file_range + fsync + renames + collapse beside the same writer: %d rotations in %s, %.2f%% of one core (%s per rotation), longest collapse %s; writer %.0f lines/s, longest stall %s\n",
		floor.rotations, floor.elapsed.Round(time.Second), float64(floor.cpu)/float64(floor.elapsed)*100,
		(floor.cpu / time.Duration(max(floor.rotations, 1))).Round(time.Microsecond), floor.collapse.Round(time.Microsecond), floor.writer.rate(), floor.writer.stall.Round(time.Microsecond))
	return nil
}

// startBare starts floodPy in dir with its output appended to dir/flood.log,
// as pyvisor would start it, with no manager.
func startBare(dir string) (*exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "flood.py"), []byte(floodPy), 0o644); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "flood.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := exec.Command("python3", "flood.py")
	c.Dir = dir
	c.Stdout, c.Stderr = f, f
	c.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	// In a session of its own, as pyvisor starts programs: with the kernel's
	// autogroups, a session is what shares the CPU fairly with the others.
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return c, c.Start()
}

// waitStats reads dir/flood.stats, which the program writes as it ends.
func waitStats(dir string) (floodStats, error) {
	path := filepath.Join(dir, "flood.stats")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			var s floodStats
			var stall, elapsed float64
			if _, err := fmt.Sscan(string(data), &s.lines, &stall, &elapsed); err != nil {
				return s, fmt.Errorf("%s: %w", path, err)
			}
			s.stall = time.Duration(stall * float64(time.Second))
			s.elapsed = time.Duration(elapsed * float64(time.Second))
			return s, nil
		}
		if time.Now().After(deadline) {
			return floodStats{}, fmt.Errorf("%s not written: %v", path, err)
		}
	}
}

// checkFlood reads the backups of logPath, oldest first, then the live file,
// and counts the lines missing between the first whole line and the last of
// the written ones, duplicated or out of order lines counting as missing too.
func checkFlood(logPath string, written int) (missing, kept int, err error) {
	var all []byte
	for i := floodBackups; i >= 1; i-- {
		b, err := os.ReadFile(logPath + "." + strconv.Itoa(i))
		if err != nil && !os.IsNotExist(err) {
			return 0, 0, err
		}
		all = append(all, b...)
	}
	live, err := os.ReadFile(logPath)
	if err != nil {
		return 0, 0, err
	}
	all = append(all, live...)
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) < 2 {
		return 0, 0, fmt.Errorf("%s holds %d lines", logPath, len(lines))
	}
	lines = lines[1:] // the oldest may be the tail of a line
	first, err := strconv.Atoi(lines[0])
	if err != nil {
		return 0, 0, fmt.Errorf("first whole line %q: %w", lines[0], err)
	}
	want := first
	for _, l := range lines {
		n, err := strconv.Atoi(l)
		if err != nil || n != want {
			missing++
			if err == nil && n > want {
				missing += n - want - 1
				want = n
			}
		}
		want++
	}
	// The count can be one short: SIGTERM can come between a write and the count.
	if last := want - 1; last < written-1 || last > written {
		missing += max(written-1-last, 0)
		return missing, len(lines), fmt.Errorf("last line kept %d; the program wrote up to %d", last, written-1)
	}
	return missing, len(lines), nil
}
