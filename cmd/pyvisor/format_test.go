package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/client"
	"github.com/pyvisor/pyvisor/internal/config"
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
		p    client.Program
		want []string
	}{
		{"running", client.Program{Name: "web", State: "running", PID: ptr(123), UptimeSeconds: 725, RestartCount: 2, CPUPercent: 0.46, MemoryRSSBytes: 12_897_485},
			[]string{"web", "running", "123", "12m5s", "2", "0.5%", "12.3 MiB"}},
		{"running, not sampled yet", client.Program{Name: "web", State: "running", PID: ptr(5), RestartCount: 0},
			[]string{"web", "running", "5", "0s", "0", "0.0%", "-"}},
		{"stopped", client.Program{Name: "two words", State: "stopped", RestartCount: 1},
			[]string{"two words", "stopped", "-", "-", "1", "-", "-"}},
		{"control characters", client.Program{Name: "a\tb\x1b[31m", State: "error"},
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
		p    client.Program
		want string
	}{
		{"running", client.Program{Name: "worker", State: "running", PID: ptr(123)}, "worker: running (pid 123)"},
		{"stopped", client.Program{Name: "worker", State: "stopped"}, "worker: stopped"},
		{"error", client.Program{Name: "worker", State: "error", Error: ptr("script x.py: no such file")}, "worker: error: script x.py: no such file"},
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
		r    client.ReloadResult
		want string
	}{
		{"nothing", client.ReloadResult{}, "Configuration reloaded: nothing changed.\n"},
		{"changes", client.ReloadResult{Added: []string{"a", "b"}, Changed: []string{"c"}, NeedsRestart: []string{"c"}},
			"Configuration reloaded.\nadded: a, b\nchanged: c\nneeds restart: c\n(apply with: pyvisor restart NAME...)\n"},
		{"removed only", client.ReloadResult{Removed: []string{"old"}}, "Configuration reloaded.\nremoved: old\n"},
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
		{"status", nil, true}, {"status", []string{"x"}, false},
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

func TestConfigURL(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string
	}{
		{"127.0.0.1", "http://127.0.0.1:8080"},
		{"0.0.0.0", "http://127.0.0.1:8080"},
		{"", "http://127.0.0.1:8080"},
		{"::", "http://[::1]:8080"},
		{"[::]", "http://[::1]:8080"},
		{"::1", "http://[::1]:8080"},
		{"fe80::1", "http://[fe80::1]:8080"},
		{"pm.lan", "http://pm.lan:8080"},
	} {
		if got := configURL(config.WebUI{Host: tc.host, Port: 8080}); got != tc.want {
			t.Errorf("configURL(host %q, port 8080) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

// TestResolveAddress checks where the address comes from: --url, then -c
// FILE, then PYVISOR_URL, then ./process_manager.yaml, then the default.
func TestResolveAddress(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "named.yaml")
	writeFile(t, named, "web_ui: {host: 0.0.0.0, port: 2001}\n")
	local := t.TempDir()
	writeFile(t, filepath.Join(local, defaultConfigName), "web_ui: {host: '::', port: 2002}\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "web_ui: {port: 70000}\n")
	empty := t.TempDir()

	for _, tc := range []struct {
		name, flagURL, config, env, cwd string
		want                            managerAddress
		wantErr                         string
	}{
		{name: "--url wins", flagURL: "http://h:1/", config: named, env: "http://e:3", cwd: local,
			want: managerAddress{"http://h:1", "--url"}},
		{name: "--url without scheme", flagURL: "h:1", want: managerAddress{"http://h:1", "--url"}, cwd: empty},
		{name: "-c beats PYVISOR_URL", config: named, env: "http://e:3", cwd: local,
			want: managerAddress{"http://127.0.0.1:2001", named}},
		{name: "PYVISOR_URL beats ./" + defaultConfigName, env: "https://e:3", cwd: local,
			want: managerAddress{"https://e:3", "PYVISOR_URL"}},
		{name: "./" + defaultConfigName, cwd: local,
			want: managerAddress{"http://[::1]:2002", filepath.Join(local, defaultConfigName)}},
		{name: "default", cwd: empty, want: managerAddress{"http://127.0.0.1:10000", "the default address"}},
		{name: "bad --url", flagURL: "ftp://h", cwd: empty, wantErr: "--url"},
		{name: "bad PYVISOR_URL", env: "http://", cwd: empty, wantErr: "PYVISOR_URL"},
		{name: "invalid config", config: bad, cwd: empty, wantErr: "web_ui.port"},
		{name: "missing config", config: filepath.Join(dir, "nope.yaml"), cwd: empty, wantErr: "nope.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(tc.cwd)
			getenv := func(k string) string {
				if k == "PYVISOR_URL" {
					return tc.env
				}
				return ""
			}
			got, err := resolveAddress(tc.flagURL, tc.config, getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("resolveAddress(%q, %q, PYVISOR_URL=%q) = %+v, %v; want an error mentioning %q", tc.flagURL, tc.config, tc.env, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("resolveAddress(%q, %q, PYVISOR_URL=%q) in %s = %+v, %v; want %+v", tc.flagURL, tc.config, tc.env, tc.cwd, got, err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
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
		{"status", "extra"},
		{"status", "--bogus"},
		{"restart", "a", "all"},
		{"reload", "x"},
		{"status", "--url", "ftp://x"},
		{"frobnicate"},
	} {
		code := run(args, io.Discard, io.Discard)
		if code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", args, code, exitUsage)
		}
	}
}
