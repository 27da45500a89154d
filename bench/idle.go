package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const idlePy = `import time
while True:
    time.sleep(3600)
`

// idleManager is one manager of the idle scenario and what was seen of it.
type idleManager struct {
	label    string
	p        *project
	startAll time.Duration
	t0       taskTotals
	maxRSS   uint64
	// Anonymous memory sampled every second of the window: its level moves
	// with the collector's cycle (the heap grows towards its goal, then a
	// collection and the periodic return bring it down), so a reading at one
	// moment depends on where in that cycle the moment falls.
	anonSum, anonMin, anonMax uint64
	rssSum                    uint64
	samples                   int
}

// benchIdle starts a manager (bin) with n idle programs, times until all run,
// then measures its memory, CPU and wake-ups over window. With a baseline
// binary, a second manager of as many programs runs beside the first, and
// both are measured over the same window, so that the load of the machine
// weighs on both alike.
func benchIdle(bin, baseline, work string, n int, window time.Duration) error {
	var b strings.Builder
	b.WriteString("programs:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: idle-%03d, script: idle.py}\n", i)
	}
	bins := []struct{ label, path string }{{"current", bin}}
	if baseline != "" {
		bins = append(bins, struct{ label, path string }{"baseline", baseline})
	}
	var managers []*idleManager
	defer func() {
		for _, m := range managers {
			m.p.close()
		}
	}()
	for _, bb := range bins {
		p, err := newProject(work, "idle-"+bb.label, map[string]string{"idle.py": idlePy}, b.String())
		if err != nil {
			return err
		}
		m := &idleManager{label: bb.label, p: p}
		managers = append(managers, m)
		t0 := time.Now()
		if err := p.start(bb.path); err != nil {
			return err
		}
		if err := p.waitRunning(n, time.Minute); err != nil {
			return fmt.Errorf("%s: %w", bb.label, err)
		}
		m.startAll = time.Since(t0)
		fmt.Printf("idle: %-8s %d programs running %s after the manager was started\n", m.label, n, m.startAll.Round(time.Millisecond))
	}

	// Start-up garbage collected and start-up memory released (5 s after ready) before measuring.
	time.Sleep(10 * time.Second)
	var err error
	for _, m := range managers {
		if m.t0, err = readTaskTotals(m.p.cmd.Process.Pid); err != nil {
			return err
		}
	}
	t1 := time.Now()
	for time.Since(t1) < window {
		time.Sleep(time.Second)
		for _, m := range managers {
			pid := m.p.cmd.Process.Pid
			rss, err := rssBytes(pid)
			if err != nil {
				return err
			}
			anon, err := statusBytes(pid, "RssAnon")
			if err != nil {
				return err
			}
			m.maxRSS = max(m.maxRSS, rss)
			if m.samples == 0 {
				m.anonMin = anon
			}
			m.anonSum += anon
			m.rssSum += rss
			m.anonMin = min(m.anonMin, anon)
			m.anonMax = max(m.anonMax, anon)
			m.samples++
		}
	}
	elapsed := time.Since(t1)
	for _, m := range managers {
		pid := m.p.cmd.Process.Pid
		t, err := readTaskTotals(pid)
		if err != nil {
			return err
		}
		rss, _ := rssBytes(pid)
		// Anonymous memory is the manager's own; file pages are the binary's,
		// shared with the page cache.
		anon, _ := statusBytes(pid, "RssAnon")
		file, _ := statusBytes(pid, "RssFile")
		fmt.Printf("idle: %-8s manager RSS %.1f MiB = %.1f MiB anonymous + %.1f MiB file (max %.1f MiB over %s), "+
			"CPU %.3f%% of one core, %.1f wake-ups/s (%.1f voluntary context switches/s)\n",
			m.label, float64(rss)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20), float64(m.maxRSS)/(1<<20),
			elapsed.Round(time.Second), float64(t.cpu-m.t0.cpu)/float64(elapsed)*100,
			float64(t.runs-m.t0.runs)/elapsed.Seconds(), float64(t.voluntary-m.t0.voluntary)/elapsed.Seconds())
		if m.samples > 0 {
			fmt.Printf("idle: %-8s sampled every second: anonymous memory mean %.2f MiB, min %.2f, max %.2f; RSS mean %.2f MiB\n",
				m.label, float64(m.anonSum)/float64(m.samples)/(1<<20), float64(m.anonMin)/(1<<20), float64(m.anonMax)/(1<<20),
				float64(m.rssSum)/float64(m.samples)/(1<<20))
		}
	}
	// The managers and their programs first: none may take CPU from the floor.
	for _, m := range managers {
		m.p.close()
	}
	dir := managers[0].p.dir
	managers = nil
	floor, err := spawnFloor(filepath.Join(dir, "idle.py"), n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: spawn floor:", err)
		return nil
	}
	fmt.Printf("idle: spawn floor: a bare loop starts %d of the same interpreter in %s\n", n, floor.Round(time.Millisecond))
	return nil
}

// taskTotals are a process's figures summed over its threads.
type taskTotals struct {
	cpu       time.Duration // time on a CPU
	runs      int64         // times put on a CPU: each wake-up is one
	voluntary int64         // times a thread gave up the CPU to wait
}

// readTaskTotals sums /proc/<pid>/task/*/schedstat (CPU time in nanoseconds
// and the count of times run) and the voluntary context switches of
// /proc/<pid>/task/*/status. Threads that exited meanwhile are not counted;
// the Go runtime keeps its threads.
func readTaskTotals(pid int) (taskTotals, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return taskTotals{}, err
	}
	var t taskTotals
	for _, task := range tasks {
		dir := fmt.Sprintf("/proc/%d/task/%s/", pid, task.Name())
		data, err := os.ReadFile(dir + "schedstat")
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(data))
		if len(f) < 3 {
			return t, fmt.Errorf("%sschedstat: %q", dir, data)
		}
		ns, err1 := strconv.ParseInt(f[0], 10, 64)
		runs, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return t, fmt.Errorf("%sschedstat: %q", dir, data)
		}
		t.cpu += time.Duration(ns)
		t.runs += runs
		status, err := os.ReadFile(dir + "status")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				t.voluntary += n
			}
		}
	}
	return t, nil
}

// cpuTime is the CPU time pid has used, summed over its threads (see
// readTaskTotals): /proc/<pid>/stat counts 10 ms ticks, too coarse for a
// process that uses a few milliseconds a minute.
func cpuTime(pid int) (time.Duration, error) {
	t, err := readTaskTotals(pid)
	return t.cpu, err
}

// spawnFloor is the time a loop that does nothing else takes to start n
// interpreters running script, each in a session of its own as pyvisor
// starts them: on 2 cores the interpreters' own start-up, competing for the
// CPU with the next spawn, bounds how fast any manager can start them.
func spawnFloor(script string, n int) (time.Duration, error) {
	cmds := make([]*exec.Cmd, 0, n)
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	t := time.Now()
	for range n {
		c := exec.Command("python3", script)
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return 0, err
		}
		cmds = append(cmds, c)
	}
	return time.Since(t), nil
}
