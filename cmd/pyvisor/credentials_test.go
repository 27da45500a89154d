package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestClientSendsToken runs status against a server that requires a bearer token.
func TestClientSendsToken(t *testing.T) {
	const token = "tok-3f9a"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"missing or wrong token"}`)
			return
		}
		fmt.Fprint(w, `{"title":"T","programs":[{"name":"web","state":"running","pid":42,"uptime_seconds":90,"restart_count":1,"cpu_percent":0.26,"memory_rss_bytes":1048576}]}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("PYVISOR_URL", srv.URL)

	t.Setenv("PYVISOR_TOKEN", token)
	r := cli("status")
	want := "NAME  STATE    PID  UPTIME  RESTARTS  CPU   MEM\nweb   running  42   1m30s   1         0.3%  1.0 MiB\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("status with PYVISOR_TOKEN: %v; want exit 0 and\n%s", r, want)
	}

	t.Setenv("PYVISOR_TOKEN", "")
	r = cli("status")
	if r.code != 1 || !strings.Contains(r.stderr, "missing or wrong token") || !strings.Contains(r.stderr, "set PYVISOR_TOKEN") {
		t.Errorf("status without PYVISOR_TOKEN: %v; want exit 1, the server's message and advice to set PYVISOR_TOKEN", r)
	}
}

// TestTokenAdvice: a refused request is explained by where its token came from.
func TestTokenAdvice(t *testing.T) {
	const file = "/srv/pm/process_manager.token"
	for _, tc := range []struct {
		name, tokenFrom, tokenFile, want string
	}{
		{"from PYVISOR_TOKEN", "PYVISOR_TOKEN", file, "check that PYVISOR_TOKEN holds a token the manager accepts"},
		{"from the local file", file, file, "the manager refused the token in " + file},
		{"none, the file unreadable", "", file, "run as the manager's user, who may read " + file},
		{"none, address from --url", "", "", "if the manager requires a token, set PYVISOR_TOKEN"},
	} {
		x := &ctl{tokenFrom: tc.tokenFrom, addr: managerAddress{TokenFile: tc.tokenFile}}
		if got := x.tokenAdvice(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: tokenAdvice() = %q, want it to contain %q", tc.name, got, tc.want)
		}
	}
}

// TestEnvTokenOnlyToTrustedAddress: PYVISOR_TOKEN goes to an address given
// with --url or PYVISOR_URL, or to a loopback one, and not to one that a
// process_manager.yaml in the current directory names: whoever wrote that
// file would receive the token.
func TestEnvTokenOnlyToTrustedAddress(t *testing.T) {
	var external netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
				external = p.Addr()
				break
			}
		}
	}
	if !external.IsValid() {
		t.Skip("this machine has no IPv4 address but loopback to serve on")
	}
	const token = "tok-env-7c1e"
	extPort, extAuth := serveAuthRecorder(t, net.JoinHostPort(external.String(), "0"))
	loPort, loAuth := serveAuthRecorder(t, "127.0.0.1:0")
	t.Setenv("PYVISOR_TOKEN", token)
	t.Setenv("PYVISOR_URL", "")

	cases := []struct {
		name     string
		config   string // ./process_manager.yaml; "" for none
		args     []string
		env      string // PYVISOR_URL
		auth     chan string
		wantSent bool
	}{
		{"address from ./process_manager.yaml", fmt.Sprintf("web_ui: {host: %s, port: %d}\n", external, extPort), nil, "", extAuth, false},
		{"the same address from --url", "", []string{"--url", fmt.Sprintf("http://%s:%d", external, extPort)}, "", extAuth, true},
		{"the same address from PYVISOR_URL", "", nil, fmt.Sprintf("http://%s:%d", external, extPort), extAuth, true},
		{"a loopback address from ./process_manager.yaml", fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\n", loPort), nil, "", loAuth, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				testkit.WriteFile(t, filepath.Join(dir, defaultConfigName), tc.config)
			}
			t.Chdir(dir)
			t.Setenv("PYVISOR_URL", tc.env)
			r := cli(append([]string{"status"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("status: %v; want exit 0", r)
			}
			got := <-tc.auth
			warned := strings.Contains(r.stderr, "not sending PYVISOR_TOKEN")
			if sent := got == "Bearer "+token; sent != tc.wantSent || warned == tc.wantSent {
				t.Errorf("status with the %s: the server got Authorization %q, stderr %q; want the token sent: %v, a warning: %v",
					tc.name, got, r.stderr, tc.wantSent, !tc.wantSent)
			}
		})
	}
}

func TestEnvTokenWithheld(t *testing.T) {
	cases := []struct {
		addr     managerAddress
		withheld bool
	}{
		{managerAddress{URL: "http://pm.example:1", Source: "--url"}, false},
		{managerAddress{URL: "https://203.0.113.5:1", Source: "PYVISOR_URL"}, false},
		{managerAddress{URL: "http://127.0.0.1:10000", Source: "the default address"}, false},
		{managerAddress{URL: "http://[::1]:2002", Source: "/srv/process_manager.yaml"}, false},
		{managerAddress{URL: "http://localhost:2002", Source: "/srv/process_manager.yaml"}, false},
		{managerAddress{URL: "http://203.0.113.5:2002", Source: "/tmp/x/process_manager.yaml"}, true},
		{managerAddress{URL: "https://pm.example:2002", Source: "/tmp/x/process_manager.yaml"}, true},
		{managerAddress{URL: "http://localhost.evil.example:2002", Source: "/tmp/x/process_manager.yaml"}, true},
	}
	for _, c := range cases {
		why := envTokenWithheld(c.addr)
		if (why != "") != c.withheld || c.withheld && !strings.Contains(why, c.addr.Source) {
			t.Errorf("envTokenWithheld(%+v) = %q; want withheld: %v, naming the source", c.addr, why, c.withheld)
		}
	}
}

// TestFileTokenWithheld: the token of a local token file goes only to this
// machine, whatever address the configuration beside it names.
func TestFileTokenWithheld(t *testing.T) {
	local := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	cases := []struct {
		url      string
		withheld bool
	}{
		{"http://127.0.0.1:10000", false},
		{"http://127.9.9.9:10000", false},
		{"http://[::1]:10000", false},
		{"http://localhost:10000", false},
		{"https://192.0.2.10:10000", false},
		{"http://[2001:db8::10]:10000", false},
		{"http://[::ffff:192.0.2.10]:10000", false},
		{"http://192.0.2.11:10000", true},
		{"http://203.0.113.5:10000", true},
		{"http://pm.example:10000", true},
		{"http://localhost.evil.example:10000", true},
	}
	for _, c := range cases {
		addr := managerAddress{URL: c.url, Source: "/tmp/x/process_manager.yaml", TokenFile: "/tmp/x/process_manager.token"}
		why := fileTokenWithheld(addr, local)
		if (why != "") != c.withheld {
			t.Errorf("fileTokenWithheld(%s) = %q, want withheld: %v", c.url, why, c.withheld)
		}
	}
}

// TestFileTokenNotSentAway: a process_manager.yaml in the current directory
// that names a host which is not this machine's by its address, beside a link
// to a real manager's token file, does not get that token sent there.
func TestFileTokenNotSentAway(t *testing.T) {
	t.Setenv("PYVISOR_TOKEN", "")
	t.Setenv("PYVISOR_URL", "")
	hostname, err := os.Hostname()
	if err != nil {
		t.Skipf("this machine's host name: %v", err)
	}
	if _, err := net.LookupHost(hostname); err != nil {
		t.Skipf("this machine's host name %q does not resolve: %v", hostname, err)
	}
	const token = "tok-file-19ad"
	port, auth := serveAuthRecorder(t, ":0") // every address, whatever the host name resolves to

	real := filepath.Join(t.TempDir(), "process_manager.token")
	testkit.WriteFile(t, real, token+"\n")
	for _, tc := range []struct {
		host     string
		wantSent bool
	}{
		// A name is not an address of this machine, not even its own host
		// name, which lets the test server play another machine.
		{"127.0.0.1", true},
		{hostname, false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			dir := t.TempDir()
			testkit.WriteFile(t, filepath.Join(dir, defaultConfigName), fmt.Sprintf("web_ui: {host: %s, port: %d}\n", tc.host, port))
			if err := os.Symlink(real, filepath.Join(dir, "process_manager.token")); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			r := cli("status")
			warned := strings.Contains(r.stderr, "not sending the token")
			got := "(no request)"
			select {
			case got = <-auth:
			default:
			}
			if sent := got == "Bearer "+token; r.code != 0 || sent != tc.wantSent || warned == tc.wantSent {
				t.Errorf("status with %s in ./process_manager.yaml: %v; the server got Authorization %q; want the token sent: %v, a warning: %v",
					tc.host, r, got, tc.wantSent, !tc.wantSent)
			}
		})
	}
}

// serveAuthRecorder serves, on addr until the test ends, a manager's answer
// to a status request, and sends the Authorization header of each request it
// gets on auth. It returns the port it listens on.
func serveAuthRecorder(t *testing.T, addr string) (port int, auth chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	auth = make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		fmt.Fprint(w, `{"title":"T","programs":[]}`)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().(*net.TCPAddr).Port, auth
}
