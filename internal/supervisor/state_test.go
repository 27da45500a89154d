package supervisor

import (
	"fmt"
	"math"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
)

func TestDecideExit(t *testing.T) {
	pol := config.RestartPolicy{
		Delay:                  time.Second,
		MaxConsecutiveFailures: 3,
		FailureReset:           time.Minute,
		BackoffFactor:          1,
	}
	exit1 := proc.ExitStatus{Known: true, Code: 1}
	exit0 := proc.ExitStatus{Known: true, Code: 0}
	killed := proc.ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}
	unknown := proc.ExitStatus{}
	outOfMemory := proc.ExitStatus{Known: true, Code: 0, Cause: "killed: out of memory (limit 256 MiB)"}
	withCooldown := pol
	withCooldown.BrokenCooldown = 10 * time.Minute
	never := pol
	never.MaxConsecutiveFailures = 0

	tests := []struct {
		name        string
		pol         config.RestartPolicy
		autorestart bool
		exitCodes   []int
		failures    int
		ran         time.Duration
		exit        proc.ExitStatus
		want        exitDecision
	}{
		{"first crash restarts", pol, true, nil, 0, time.Second, exit1,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"exit 0 is a failure by default", pol, true, nil, 0, time.Second, exit0,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"a listed code after a memory limit stop is a failure", pol, true, []int{0}, 0, time.Second, outOfMemory,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"listed exit code finishes", pol, true, []int{0, 2}, 2, time.Second, exit0,
			exitDecision{State: Stopped, Failures: 0}},
		{"signal is not an exit code", pol, true, []int{0}, 0, time.Second, killed,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"unknown status of adopted process is a failure", pol, true, []int{0}, 0, time.Second, unknown,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"second crash in a row", pol, true, nil, 1, time.Second, exit1,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 2}},
		{"reaching the limit is broken", pol, true, nil, 2, time.Second, exit1,
			exitDecision{State: Broken, Failures: 3}},
		{"broken with cool-down waits", withCooldown, true, nil, 2, time.Second, exit1,
			exitDecision{State: Broken, Failures: 3, Delay: 10 * time.Minute}},
		{"stable run resets the count", pol, true, nil, 2, time.Minute, exit1,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1}},
		{"just short of stable does not reset", pol, true, nil, 2, time.Minute - time.Millisecond, exit1,
			exitDecision{State: Broken, Failures: 3}},
		{"limit 0 never breaks", never, true, nil, 1000, time.Second, exit1,
			exitDecision{State: Restarting, Delay: time.Second, Failures: 1001}},
		{"autorestart off stops", pol, false, nil, 0, time.Second, exit1,
			exitDecision{State: Stopped, Failures: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideExit(tt.pol, tt.autorestart, tt.exitCodes, tt.failures, tt.ran, tt.exit)
			got.Reason = "" // checked below
			if got != tt.want {
				t.Errorf("decideExit(failures=%d, ran=%s, %v) = %+v, want %+v", tt.failures, tt.ran, tt.exit, got, tt.want)
			}
		})
	}
	d := decideExit(pol, true, nil, 2, time.Second, exit1)
	if d.Reason == "" {
		t.Errorf("decideExit gave no reason for %+v", d)
	}
}

func TestBackoffDelay(t *testing.T) {
	pol := config.RestartPolicy{Delay: time.Second, BackoffFactor: 2, MaxDelay: 10 * time.Second}
	tests := []struct {
		name     string
		pol      config.RestartPolicy
		failures int
		want     time.Duration
	}{
		{"first failure waits the base delay", pol, 1, time.Second},
		{"second doubles", pol, 2, 2 * time.Second},
		{"fourth is 8x", pol, 4, 8 * time.Second},
		{"capped", pol, 5, 10 * time.Second},
		{"huge count stays capped", pol, 10000, 10 * time.Second},
		{"factor 1 is constant", config.RestartPolicy{Delay: time.Second, BackoffFactor: 1}, 7, time.Second},
		{"factor 0 means 1", config.RestartPolicy{Delay: time.Second}, 7, time.Second},
		{"zero delay stays zero", config.RestartPolicy{BackoffFactor: 3}, 5, 0},
		{"no cap does not overflow", config.RestartPolicy{Delay: time.Second, BackoffFactor: 10}, 1000, time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoffDelay(tt.pol, tt.failures); got != tt.want {
				t.Errorf("backoffDelay(%+v, %d) = %s, want %s", tt.pol, tt.failures, got, tt.want)
			}
		})
	}
}

func TestAppendHistory(t *testing.T) {
	const n = 4
	var h []Sample
	var snapshots [][]Sample
	var want [][]Sample
	for i := range 20 {
		h = appendHistory(h, NewSample(float64(i), uint64(i)<<10), n)
		snapshots = append(snapshots, h)
		w := []Sample{}
		for j := max(0, i-n+1); j <= i; j++ {
			w = append(w, NewSample(float64(j), uint64(j)<<10))
		}
		want = append(want, w)
	}
	// Every earlier result must still read as it did: snapshots share the arrays.
	for i, s := range snapshots {
		if !slices.Equal(s, want[i]) {
			t.Errorf("after %d appends the history read %v, want %v", i+1, s, want[i])
		}
	}
}

// A sample keeps what the API reports: CPU to a tenth of a percent (rounded as the API rounds) and
// memory in whole pages.
func TestSample(t *testing.T) {
	tests := []struct {
		name       string
		cpuPercent float64
		rssBytes   uint64
		wantCPU    float64
		wantRSS    uint64
	}{
		{"zero", 0, 0, 0, 0},
		{"tenths", 12.345, 4096 * 1234, 12.3, 4096 * 1234},
		{"half a tenth rounds up", 0.05, 4096, 0.1, 4096},
		{"many cores", 6400.04, 64 << 30, 6400, 64 << 30},
		{"negative CPU reads as none", -1, 0, 0, 0},
		{"past the largest", 1e12, 1 << 50, math.MaxUint32 / 10.0, math.MaxUint32 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSample(tt.cpuPercent, tt.rssBytes)
			if s.CPUPercent() != tt.wantCPU || s.RSSBytes() != tt.wantRSS {
				t.Errorf("NewSample(%v, %d) reads %v%%, %d bytes; want %v%%, %d bytes",
					tt.cpuPercent, tt.rssBytes, s.CPUPercent(), s.RSSBytes(), tt.wantCPU, tt.wantRSS)
			}
		})
	}
}

// An idle manager's sampling makes almost no garbage, so its collections are minutes apart: a round
// updates the measurements in place, and only a history that has filled its array moves to a new one,
// once every 30 rounds for each program.
func TestSamplerRoundAllocatesLittle(t *testing.T) {
	sm := &sampler{history: 60}
	pids := map[string]int{}
	measured := map[int]proc.Usage{}
	for i := range 100 {
		pids[fmt.Sprint("p", i)] = 1000 + i
		measured[1000+i] = proc.Usage{CPU: time.Second, RSSBytes: 1, Processes: 1}
	}
	now := time.Unix(1000, 0)
	sm.round(pids, measured, now) // the first round adds the programs
	allocs := testing.AllocsPerRun(120, func() {
		now = now.Add(2 * time.Second)
		sm.round(pids, measured, now)
	})
	if allocs > 4 {
		t.Errorf("a sampling round of 100 programs allocates %v times on average, want at most 4 (100 histories moving every 30 rounds)", allocs)
	}
}

func TestSamplerRound(t *testing.T) {
	sm := &sampler{history: 3}
	t0 := time.Unix(1000, 0)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	cpu := func(ms int) proc.Usage {
		return proc.Usage{CPU: time.Duration(ms) * time.Millisecond, RSSBytes: 100 << 10, Processes: 1}
	}

	all := sm.round(map[string]int{"a": 10}, map[int]proc.Usage{10: cpu(0)}, sec(0))
	if u := all["a"]; u.cpuPercent != 0 || u.cpuMeasured || len(u.history) != 0 || u.rssBytes != 100<<10 {
		t.Errorf("first round = %+v, want no CPU figure yet and the RSS", u)
	}
	all = sm.round(map[string]int{"a": 10}, map[int]proc.Usage{10: cpu(500)}, sec(1))
	if u := all["a"]; u.cpuPercent != 50 || !u.cpuMeasured || !slices.Equal(u.history, []Sample{NewSample(50, 100<<10)}) {
		t.Errorf("500 ms of CPU in 1 s = %+v, want 50%% and history [50]", u)
	}
	first := all["a"] // a copy, as readers take
	// A restart: another PID starts its CPU count afresh, the history goes on.
	all = sm.round(map[string]int{"a": 11}, map[int]proc.Usage{11: cpu(9000)}, sec(2))
	if u := all["a"]; u.pid != 11 || u.cpuPercent != 0 || u.cpuMeasured || !slices.Equal(u.history, []Sample{NewSample(50, 100<<10)}) {
		t.Errorf("after a restart = %+v, want pid 11 with no CPU figure yet (not the last process's)", u)
	}
	all = sm.round(map[string]int{"a": 11}, map[int]proc.Usage{11: cpu(9000)}, sec(3))
	if st := withUsage(Status{Name: "a", PID: 11}, all); !st.CPUMeasured || st.CPUPercent != 0 {
		t.Errorf("withUsage after the new process's second sample = %+v, want a measured 0%%", st)
	}
	all = sm.round(map[string]int{"a": 0}, nil, sec(4))
	if u := all["a"]; u.rssBytes != 0 || !slices.Equal(u.history, []Sample{NewSample(50, 100<<10), NewSample(0, 100<<10)}) {
		t.Errorf("stopped program = %+v, want no figures and the histories kept, memory [100 KiB, 100 KiB]", u)
	}
	if !slices.Equal(first.history, []Sample{NewSample(50, 100<<10)}) {
		t.Errorf("a copy taken after an earlier round changed: %+v", first)
	}
	all = sm.round(map[string]int{"b": 0}, nil, sec(5))
	if _, ok := all["a"]; ok || len(all) != 1 {
		t.Errorf("after a round without it, a program is still measured: %v", all)
	}
	st := withUsage(Status{Name: "a", PID: 12}, map[string]usage{"a": {pid: 11, cpuPercent: 7, cpuMeasured: true, history: []Sample{NewSample(7, 5)}, rssBytes: 5}})
	if st.CPUPercent != 0 || st.CPUMeasured || st.MemoryRSS != 0 || len(st.History) != 1 {
		t.Errorf("withUsage for a newer PID = %+v, want the history only", st)
	}
}

// TestSamplerCPUTotal feeds rounds of measurements of one program "a" and
// checks the CPU total after the last: it sums every process's growth, counts a
// new process whole, and never decreases.
func TestSamplerCPUTotal(t *testing.T) {
	type round struct {
		pid int           // of "a"; 0 when not running
		cpu time.Duration // measured for pid; -1: not measured
	}
	ms := time.Millisecond
	tests := []struct {
		name   string
		rounds []round
		want   time.Duration
	}{
		{"first sight counts whole", []round{{10, 300 * ms}}, 300 * ms},
		{"growth adds up", []round{{10, 300 * ms}, {10, 500 * ms}, {10, 900 * ms}}, 900 * ms},
		{"a member exits: the sum shrinks, the total does not",
			[]round{{10, 900 * ms}, {10, 400 * ms}, {10, 600 * ms}}, 1100 * ms},
		{"a restart adds the new process", []round{{10, 900 * ms}, {11, 200 * ms}, {11, 300 * ms}}, 1200 * ms},
		{"stopped keeps the total", []round{{10, 900 * ms}, {0, 0}, {0, 0}}, 900 * ms},
		{"stopped then started again", []round{{10, 900 * ms}, {0, 0}, {12, 100 * ms}}, 1000 * ms},
		{"a round without a measurement keeps the baseline",
			[]round{{10, 900 * ms}, {10, -1}, {10, 1000 * ms}}, 1000 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := &sampler{history: 3}
			var all map[string]usage
			var totals []time.Duration
			for i, r := range tt.rounds {
				measured := map[int]proc.Usage{}
				if r.pid != 0 && r.cpu >= 0 {
					measured[r.pid] = proc.Usage{CPU: r.cpu, RSSBytes: 1, Processes: 1}
				}
				all = sm.round(map[string]int{"a": r.pid}, measured, time.Unix(int64(1000+i), 0))
				totals = append(totals, all["a"].cpuTotal)
			}
			if !slices.IsSorted(totals) {
				t.Errorf("rounds %v: totals after each round %v decrease", tt.rounds, totals)
			}
			if got := all["a"].cpuTotal; got != tt.want {
				t.Errorf("rounds %v: cpuTotal = %v, want %v", tt.rounds, got, tt.want)
			}
			st := withUsage(Status{Name: "a"}, all)
			if st.CPUTime != tt.want {
				t.Errorf("withUsage(stopped status).CPUTime = %v, want the total %v", st.CPUTime, tt.want)
			}
		})
	}
}

// Every program holds a runner and copies of its Status, so their sizes were cut to fit the allocator's
// size classes of 768 and 416 bytes on 64-bit systems (a runner, over 512 bytes and with pointers, has an
// 8-byte header besides); one field more moves a runner to 896 bytes and a Status to 448. When a new field
// is worth that, raise the limit here.
func TestPerProgramSizes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the limits are for 64-bit systems")
	}
	for _, c := range []struct {
		name       string
		size, most uintptr
	}{
		{"runner", unsafe.Sizeof(runner{}), 760},
		{"Status", unsafe.Sizeof(Status{}), 416},
	} {
		if c.size > c.most {
			t.Errorf("a %s takes %d bytes, more than the %d it was cut to", c.name, c.size, c.most)
		}
	}
}
