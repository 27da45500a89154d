package main

import (
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
)

func TestFormatUptime(t *testing.T) {
	for _, tc := range []struct {
		seconds int64
		want    string
	}{
		{-5, "0s"}, {0, "0s"}, {59, "59s"}, {60, "1m0s"}, {725, "12m5s"}, {3600, "1h0m"},
		{3*3600 + 59*60 + 59, "3h59m"}, {86400, "1d0h"}, {3*86400 + 4*3600 + 59, "3d4h"}, {400 * 86400, "400d0h"},
	} {
		if got := formatUptime(tc.seconds); got != tc.want {
			t.Errorf("formatUptime(%d) = %q, want %q", tc.seconds, got, tc.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {1024*1024 - 1, "1.0 MiB"},
		{12_897_485, "12.3 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"}, {5000 << 40, "5000.0 TiB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestStatusRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    api.Program
		want []string
	}{
		{"running", api.Program{Name: "web", State: "running", PID: ptr(123), UptimeSeconds: 725, RestartCount: 2, CPUPercent: ptr(0.46), MemoryRSSBytes: 12_897_485},
			[]string{"web", "running", "123", "12m5s", "2", "0.5%", "12.3 MiB"}},
		{"running, not sampled yet", api.Program{Name: "web", State: "running", PID: ptr(5), RestartCount: 0},
			[]string{"web", "running", "5", "0s", "0", "-", "-"}},
		{"running, sampled once (CPU needs two samples)", api.Program{Name: "web", State: "running", PID: ptr(5), MemoryRSSBytes: 2048},
			[]string{"web", "running", "5", "0s", "0", "-", "2.0 KiB"}},
		{"running, idle", api.Program{Name: "web", State: "running", PID: ptr(5), CPUPercent: ptr(0.0), MemoryRSSBytes: 2048},
			[]string{"web", "running", "5", "0s", "0", "0.0%", "2.0 KiB"}},
		{"stopped", api.Program{Name: "two words", State: "stopped", RestartCount: 1},
			[]string{"two words", "stopped", "-", "-", "1", "-", "-"}},
		{"control characters", api.Program{Name: "a\tb\x1b[31m", State: "error"},
			[]string{"a?b?[31m", "error", "-", "-", "0", "-", "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusRow(&tc.p); !slices.Equal(got, tc.want) {
				t.Errorf("statusRow(%+v) = %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

func TestActionResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    api.Program
		want string
	}{
		{"running", api.Program{Name: "worker", State: "running", PID: ptr(123)}, "worker: running (pid 123)"},
		{"stopped", api.Program{Name: "worker", State: "stopped"}, "worker: stopped"},
		{"error", api.Program{Name: "worker", State: "error", Error: ptr("script x.py: no such file")}, "worker: error: script x.py: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := actionResult(&tc.p); got != tc.want {
				t.Errorf("actionResult(%+v) = %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

func TestReloadSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    api.ReloadResult
		want string
	}{
		{"nothing", api.ReloadResult{}, "Configuration reloaded: nothing changed.\n"},
		{"changes", api.ReloadResult{Added: []string{"a", "b"}, Changed: []string{"c"}, NeedsRestart: []string{"c"}},
			"Configuration reloaded.\nadded: a, b\nchanged: c\nneeds restart: c\n(apply with: pyvisor restart NAME...)\n"},
		{"removed only", api.ReloadResult{Removed: []string{"old"}}, "Configuration reloaded.\nremoved: old\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reloadSummary(&tc.r); got != tc.want {
				t.Errorf("reloadSummary(%+v) = %q, want %q", tc.r, got, tc.want)
			}
		})
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCmd  string
		wantRest []string
	}{
		{nil, "run", nil},
		{[]string{"-c", "x.yaml"}, "run", []string{"-c", "x.yaml"}},
		{[]string{"status", "--json"}, "status", []string{"--json"}},
		{[]string{"-c", "x.yaml", "status"}, "status", []string{"-c", "x.yaml"}},
		{[]string{"--url", "http://h:1", "stop", "a"}, "stop", []string{"--url", "http://h:1", "a"}},
		{[]string{"-c=x.yaml", "validate"}, "validate", []string{"-c=x.yaml"}},
		{[]string{"--", "status"}, "run", []string{"--", "status"}},
	} {
		cmd, rest := splitCommand(slices.Clone(tc.args))
		if cmd != tc.wantCmd || !slices.Equal(rest, tc.wantRest) {
			t.Errorf("splitCommand(%q) = %q, %q; want %q, %q", tc.args, cmd, rest, tc.wantCmd, tc.wantRest)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantNames []string
		wantN     int
		wantF     bool
	}{
		{"flags first", []string{"-n", "5", "-f", "web"}, []string{"web"}, 5, true},
		{"flags after", []string{"web", "-f", "--n=7"}, []string{"web"}, 7, true},
		{"between", []string{"a", "-f", "b"}, []string{"a", "b"}, 20, true},
		{"double dash", []string{"-f", "--", "-odd", "-n"}, []string{"-odd", "-n"}, 20, true},
		{"none", nil, nil, 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			n := fs.Int("n", 20, "")
			f := fs.Bool("f", false, "")
			names, err := parseInterleaved(fs, tc.args)
			if err != nil || !slices.Equal(names, tc.wantNames) || *n != tc.wantN || *f != tc.wantF {
				t.Errorf("parseInterleaved(%q) = %q, %v with -n %d -f %t; want %q, -n %d -f %t",
					tc.args, names, err, *n, *f, tc.wantNames, tc.wantN, tc.wantF)
			}
		})
	}
}

func TestCheckArity(t *testing.T) {
	for _, tc := range []struct {
		cmd   string
		names []string
		ok    bool
	}{
		{"status", nil, true}, {"status", []string{"x", "w"}, true},
		{"reload", nil, true}, {"reload", []string{"x"}, false},
		{"logs", []string{"a"}, true}, {"logs", nil, false}, {"logs", []string{"a", "b"}, false},
		{"stop", []string{"a", "b"}, true}, {"stop", []string{"all"}, true}, {"stop", nil, false},
		{"restart", []string{"a", "all"}, false},
	} {
		if msg := checkArity(tc.cmd, tc.names); (msg == "") != tc.ok {
			t.Errorf("checkArity(%q, %q) = %q, want ok=%t", tc.cmd, tc.names, msg, tc.ok)
		}
	}
}

// TestUsageErrors checks that bad command lines exit 2 without any request.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"stop"},
		{"logs"},
		{"logs", "a", "b"},
		{"logs", "a", "-n", "5001"},
		{"logs", "a", "-n", "-1"},
		{"status", "--bogus"},
		{"restart", "a", "all"},
		{"reload", "x"},
		{"status", "--url", "ftp://x"},
		{"frobnicate"},
	} {
		code := run(args, nil, io.Discard, io.Discard)
		if code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", args, code, exitUsage)
		}
	}
}
