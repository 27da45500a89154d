package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestConfigURL(t *testing.T) {
	for _, tc := range []struct {
		host, cert string
		want       string
	}{
		{"127.0.0.1", "", "http://127.0.0.1:8080"},
		{"0.0.0.0", "cert.pem", "https://127.0.0.1:8080"},
		{"pm.lan", "cert.pem", "https://pm.lan:8080"},
		{"0.0.0.0", "", "http://127.0.0.1:8080"},
		{"", "", "http://127.0.0.1:8080"},
		{"::", "", "http://[::1]:8080"},
		{"[::]", "", "http://[::1]:8080"},
		{"::1", "", "http://[::1]:8080"},
		{"fe80::1", "", "http://[fe80::1]:8080"},
		{"pm.lan", "", "http://pm.lan:8080"},
	} {
		if got := configURL(config.WebUI{Host: tc.host, Port: 8080, TLSCert: tc.cert}); got != tc.want {
			t.Errorf("configURL(host %q, port 8080, tls_cert %q) = %q, want %q", tc.host, tc.cert, got, tc.want)
		}
	}
}

// TestResolveAddress checks where the address comes from: --url, then -c
// FILE, then PYVISOR_URL, then ./process_manager.yaml, then the default.
func TestResolveAddress(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "named.yaml")
	testkit.WriteFile(t, named, "web_ui: {host: 0.0.0.0, port: 2001}\n")
	local := t.TempDir()
	testkit.WriteFile(t, filepath.Join(local, defaultConfigName), "web_ui: {host: '::', port: 2002}\n")
	bad := filepath.Join(dir, "bad.yaml")
	testkit.WriteFile(t, bad, "web_ui: {port: 70000}\n")
	empty := t.TempDir()

	for _, tc := range []struct {
		name, flagURL, config, env, cwd string
		want                            managerAddress
		wantErr                         string
	}{
		{name: "--url wins", flagURL: "http://h:1/", config: named, env: "http://e:3", cwd: local,
			want: managerAddress{URL: "http://h:1", Source: "--url"}},
		{name: "--url without scheme", flagURL: "h:1", want: managerAddress{URL: "http://h:1", Source: "--url"}, cwd: empty},
		{name: "-c beats PYVISOR_URL", config: named, env: "http://e:3", cwd: local,
			want: managerAddress{URL: "http://127.0.0.1:2001", Source: named,
				TokenFile: filepath.Join(filepath.Dir(named), "process_manager.token")}},
		{name: "PYVISOR_URL beats ./" + defaultConfigName, env: "https://e:3", cwd: local,
			want: managerAddress{URL: "https://e:3", Source: "PYVISOR_URL"}},
		{name: "./" + defaultConfigName, cwd: local,
			want: managerAddress{URL: "http://[::1]:2002", Source: filepath.Join(local, defaultConfigName),
				TokenFile: filepath.Join(local, "process_manager.token")}},
		{name: "default", cwd: empty, want: managerAddress{URL: "http://127.0.0.1:10000", Source: "the default address"}},
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
