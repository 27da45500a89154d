package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// benchHealth runs two managers side by side, each with n idle programs: one without health checks, one
// with a check of the given kind (http, tcp or command) every interval for each program, and reports the
// CPU of each over the same window. With a baseline binary, a third manager runs it with the same checks,
// to compare two builds in one window. The HTTP and TCP checks go to a server in this process, so only
// the managers' side is measured; beside them, checkFloor does the same checks with nothing around them.
func benchHealth(bin, baseline, work string, n int, window time.Duration, kind string, interval time.Duration) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var check string
	switch kind {
	case "http":
		check = fmt.Sprintf(`{http: "http://%s/healthz"`, l.Addr())
	case "tcp":
		check = fmt.Sprintf(`{tcp: "%s"`, l.Addr())
	case "command":
		check = `{command: ["true"]`
	default:
		return fmt.Errorf("unknown health check kind %q (http, tcp or command)", kind)
	}
	check += fmt.Sprintf(", interval_seconds: %g}", interval.Seconds())

	var plain, checked strings.Builder
	plain.WriteString("programs:\n")
	checked.WriteString("programs:\n")
	for i := range n {
		fmt.Fprintf(&plain, "  - {name: idle-%03d, script: idle.py}\n", i)
		fmt.Fprintf(&checked, "  - {name: idle-%03d, script: idle.py, health_check: %s}\n", i, check)
	}
	var projects []*project
	defer func() {
		for _, p := range projects {
			p.close()
		}
	}()
	managers := []struct{ name, yaml, bin string }{{"plain", plain.String(), bin}, {"checked", checked.String(), bin}}
	if baseline != "" {
		managers = append(managers, struct{ name, yaml, bin string }{"baseline", checked.String(), baseline})
	}
	for _, c := range managers {
		p, err := newProject(work, "health-"+c.name, map[string]string{"idle.py": idlePy}, c.yaml)
		if err != nil {
			return err
		}
		projects = append(projects, p)
		if err := p.start(c.bin); err != nil {
			return err
		}
		if err := p.waitRunning(n, time.Minute); err != nil {
			return err
		}
	}
	time.Sleep(max(5*time.Second, 2*interval)) // start-up garbage collected, first checks done
	cpu0 := make([]time.Duration, len(projects))
	for i, p := range projects {
		if cpu0[i], err = cpuTime(p.cmd.Process.Pid); err != nil {
			return err
		}
	}
	type floor struct {
		cpu    time.Duration
		checks int
		err    error
	}
	floorDone := make(chan floor, 1)
	t0 := time.Now()
	if kind == "command" {
		floorDone <- floor{err: errors.New("none for commands")}
	} else {
		go func() {
			cpu, checks, err := checkFloor(l.Addr().String(), kind == "tcp", n, interval, window)
			floorDone <- floor{cpu, checks, err}
		}()
	}
	time.Sleep(window)
	elapsed := time.Since(t0)
	pct := make([]float64, len(projects))
	for i, p := range projects {
		cpu1, err := cpuTime(p.cmd.Process.Pid)
		if err != nil {
			return err
		}
		pct[i] = float64(cpu1-cpu0[i]) / float64(elapsed) * 100
	}
	healthy, err := countHealthy(projects[1])
	if err != nil {
		return err
	}
	fmt.Printf("health: %d idle programs, over the same %s: manager CPU %.3f%% of one core without health checks, "+
		"%.3f%% with a %s check of each every %s (%d healthy at the end); the checks add %.3f%%\n",
		n, elapsed.Round(time.Second), pct[0], pct[1], kind, interval, healthy, pct[1]-pct[0])
	if baseline != "" {
		fmt.Printf("health: the baseline %s with the same checks: %.3f%% (adds %.3f%%)\n", baseline, pct[2], pct[2]-pct[0])
	}
	if f := <-floorDone; f.err != nil {
		fmt.Printf("health: no floor: %v\n", f.err)
	} else {
		fmt.Printf("health: the floor, the same checks done together each interval by a bare loop on one thread: %.3f%% (%d checks)\n",
			float64(f.cpu)/float64(elapsed)*100, f.checks)
	}
	return nil
}

// countHealthy returns how many programs of p's manager are healthy.
func countHealthy(p *project) (int, error) {
	resp, err := p.get("/api/programs")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Programs []struct {
			Health *string `json:"health"`
		} `json:"programs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	n := 0
	for _, pr := range body.Programs {
		if pr.Health != nil && *pr.Health == "healthy" {
			n++
		}
	}
	return n, nil
}
