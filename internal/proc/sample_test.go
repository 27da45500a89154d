package proc

import (
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSampleGroups(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	// The burner says when it runs, since python3 may be a wrapper script (pyenv) with helpers of its own.
	burner, burnerOut := startWithPipe(t, Spec{Path: "python3", Args: []string{"-c", "print('ready', flush=True)\nwhile True: pass"}, Env: os.Environ()})
	burnerOut.line(t)
	family, out := startHelper(t, "fork-grandchild")
	out.line(t)
	gone, _ := startHelper(t, "exit3")
	waitDone(t, gone, 10*time.Second)
	pgids := []int{burner.Identity().PID, family.Identity().PID, gone.Identity().PID}

	first, err := SampleGroups(pgids)
	if err != nil {
		t.Fatalf("SampleGroups(%v) = %v", pgids, err)
	}
	if u, ok := first[gone.Identity().PID]; ok {
		t.Errorf("SampleGroups included exited group %d: %+v", gone.Identity().PID, u)
	}
	if got := first[family.Identity().PID]; got.Processes != 2 || got.RSSBytes == 0 {
		t.Errorf("SampleGroups for a helper and its grandchild = %+v, want 2 processes and RSS > 0", got)
	}
	b := first[burner.Identity().PID]
	if b.Processes != 1 || b.RSSBytes == 0 {
		t.Errorf("SampleGroups for the CPU burner = %+v, want 1 process and RSS > 0", b)
	}
	// CPU time is counted in ticks; wait (bounded) until a later sample shows more of it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		next, err := SampleGroups(pgids)
		if err != nil {
			t.Fatalf("SampleGroups(%v) = %v", pgids, err)
		}
		if next[burner.Identity().PID].CPU > b.CPU {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU burner's CPU time stayed at %v (first sample %+v, last %+v)", next[burner.Identity().PID].CPU, b, next)
		}
	}
	if got, err := SampleGroups(nil); err != nil || len(got) != 0 {
		t.Errorf("SampleGroups(nil) = %v, %v; want an empty map", got, err)
	}
}

func TestParsePS(t *testing.T) {
	t.Parallel()
	out := "    1     1  1234   1:02.50\n  200   200   100   0:00.01\n  201   200    50   0:01.00\n  300   300     8   0:00.00\n"
	tests := []struct {
		name    string
		out     string
		want    map[int]bool
		wantUse map[int]Usage
		wantErr bool
	}{
		{"sums wanted groups", out, map[int]bool{200: true, 999: true},
			map[int]Usage{200: {CPU: 1010 * time.Millisecond, RSSBytes: 150 * 1024, Processes: 2}}, false},
		{"linux time format", " 5 5 10 1-02:03:04\n", map[int]bool{5: true},
			map[int]Usage{5: {CPU: 26*time.Hour + 3*time.Minute + 4*time.Second, RSSBytes: 10240, Processes: 1}}, false},
		{"blank lines", "\n\n", map[int]bool{5: true}, map[int]Usage{}, false},
		{"missing field", " 5 5 10\n", map[int]bool{5: true}, nil, true},
		{"bad time", " 5 5 10 soon\n", map[int]bool{5: true}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePS([]byte(tt.out), tt.want)
			if (err != nil) != tt.wantErr || (!tt.wantErr && !maps.Equal(got, tt.wantUse)) {
				t.Errorf("parsePS(%q, %v) = %v, %v; want %v, error %v", tt.out, tt.want, got, err, tt.wantUse, tt.wantErr)
			}
		})
	}
}

func TestParseCPUTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0:00.00", 0, false},
		{"12:34.56", 12*time.Minute + 34560*time.Millisecond, false},
		{"75:00.5", 75*time.Minute + 500*time.Millisecond, false},
		{"01:02:03", time.Hour + 2*time.Minute + 3*time.Second, false},
		{"3-00:00:01", 72*time.Hour + time.Second, false},
		{"5", 0, true},
		{"1:2:3:4", 0, true},
		{"x-1:00", 0, true},
		{"1:0x", 0, true},
		{"1:00.x", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCPUTime(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseCPUTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestScanEnviron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		block      string
		wantVars   map[string]string
		wantTagged bool
	}{
		{"tagged", "HOME=/\x00PYV_ID=7\x00PYV_NAME=a=b\x00", map[string]string{"PYV_ID": "7", "PYV_NAME": "a=b"}, true},
		{"tag with empty value", "PYV_ID=\x00", map[string]string{"PYV_ID": ""}, true},
		{"untagged", "HOME=/\x00PYV_NAME=a\x00", map[string]string{"PYV_NAME": "a"}, false},
		{"name that only starts like the key", "PYV_IDX=1\x00", map[string]string{"PYV_IDX": "1"}, false},
		{"entry without =", "PYV_ID\x00", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, tagged := scanEnviron([]byte(tt.block), "PYV_ID", "PYV_")
			if tagged != tt.wantTagged || !maps.Equal(vars, tt.wantVars) {
				t.Errorf("scanEnviron(%q) = %v, %v; want %v, %v", tt.block, vars, tagged, tt.wantVars, tt.wantTagged)
			}
		})
	}
}

// TestSamplerRemembersMembers checks that a Sampler finds a member started
// after its first call within rediscoverEvery calls, and notices at once when
// a remembered member is gone.
func TestSamplerRemembersMembers(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	script := "import signal, subprocess, time\ngo = []\nsignal.signal(signal.SIGUSR1, lambda *a: go.append(1))\n" +
		"print('ready', flush=True)\nwhile not go: time.sleep(0.01)\n" +
		"c = subprocess.Popen(['sleep', '60'])\nprint(c.pid, flush=True)\ntime.sleep(60)\n"
	// The interpreter itself, not a wrapper (a pyenv shim) that would get the signal below.
	real, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	parent, out := startWithPipe(t, Spec{Path: strings.TrimSpace(string(real)), Args: []string{"-c", script}, Env: os.Environ()})
	out.line(t)
	pgid := parent.Identity().PID
	var s Sampler
	count := func() int {
		t.Helper()
		u, err := s.Sample([]int{pgid})
		if err != nil {
			t.Fatalf("Sample: %v", err)
		}
		return u[pgid].Processes
	}
	if n := count(); n != 1 {
		t.Fatalf("before the child: %d processes, want 1", n)
	}
	count()                                                     // remembered now
	if err := syscall.Kill(pgid, syscall.SIGUSR1); err != nil { // the program starts its child
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(out.line(t)))
	seen := 0
	for range rediscoverEvery {
		if seen = count(); seen == 2 {
			break
		}
	}
	if seen != 2 {
		t.Fatalf("after %d calls the new child is not counted: %d processes", rediscoverEvery, seen)
	}
	syscall.Kill(child, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the killed child is still counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
