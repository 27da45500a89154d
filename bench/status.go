package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// benchStatus times `pyvisor status` as a whole process (start-up, address,
// request, table, exit) against a manager with n idle programs, as a user or
// a script running it sees it; `pyvisor help` (start-up and exit, no request)
// is the floor.
func benchStatus(bin, work string, n, runs int) error {
	var b strings.Builder
	b.WriteString("programs:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: idle-%03d, script: idle.py}\n", i)
	}
	p, err := newProject(work, "status", map[string]string{"idle.py": idlePy}, b.String())
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.start(bin); err != nil {
		return err
	}
	if err := p.waitRunning(n, time.Minute); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", p.port)
	// One checked run first: the table has a header and a line per program.
	out, err := exec.Command(bin, "status", "--url", url).Output()
	if err != nil {
		return fmt.Errorf("pyvisor status: %w", err)
	}
	if lines := bytes.Count(out, []byte("\n")); lines != n+1 {
		return fmt.Errorf("pyvisor status printed %d lines, want %d:\n%s", lines, n+1, out)
	}
	for _, c := range []struct {
		label string
		args  []string
	}{
		{"pyvisor help (start-up floor)", []string{"help"}},
		{"pyvisor status", []string{"status", "--url", url}},
		{"pyvisor status --json", []string{"status", "--json", "--url", url}},
		{"pyvisor status -c FILE", []string{"status", "-c", filepath.Join(p.dir, "process_manager.yaml")}},
	} {
		times, err := timeRuns(bin, runs, c.args...)
		if err != nil {
			return err
		}
		fmt.Printf("status: %-30s %d programs, %d runs: median %.1f ms, p90 %.1f ms\n",
			c.label, n, runs, ms(median(times)), ms(percentile(times, 90)))
	}
	return nil
}

// timeRuns runs bin with args runs times, output to /dev/null as in a
// script, and returns each run's wall time from start to exit.
func timeRuns(bin string, runs int, args ...string) ([]time.Duration, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	times := make([]time.Duration, 0, runs)
	for range runs {
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("pyvisor %s: %w", strings.Join(args, " "), err)
		}
		times = append(times, time.Since(t0))
	}
	return times, nil
}

// percentile is the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}
