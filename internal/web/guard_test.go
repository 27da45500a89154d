package web

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
)

func TestHostCheck(t *testing.T) {
	f := newFixture(t, baseConfig)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	short, _, _ := strings.Cut(hostname, ".")
	cases := []struct {
		host   string
		status int
	}{
		{"localhost", 200},
		{"localhost:10000", 200},
		{"LOCALHOST:10000", 200},
		{"app.localhost:10000", 200},
		{"127.0.0.1:10000", 200},
		{"10.1.2.3", 200},
		{"[::1]:10000", 200},
		{"[::1]", 200},
		{hostname + ":10000", 200},
		{short, 200},
		{"dash.example.com", 200},
		{"dash.example.com:443", 200},
		{"box.lan.example:10000", 200},
		{"other.example:8080", 200},
		{"other.example:9090", 403},
		{"lan.example", 403},
		{"evil.example", 403},
		{"evil.example:10000", 403},
		{"localhost.evil.example", 403},
		{"127.0.0.1.nip.io", 403},
		{"", 403},
	}
	for _, c := range cases {
		t.Run("host "+c.host, func(t *testing.T) {
			// Every route is guarded, the health check and the dashboard too.
			for _, target := range []string{"/api/programs", "/healthz", "/"} {
				r := f.do(t, "GET", target, nil, "Host", c.host)
				if r.status != c.status {
					t.Fatalf("GET %s with Host %q = %d %s, want %d", target, c.host, r.status, r.body, c.status)
				}
				if c.status != 403 || c.host == "" {
					continue
				}
				msg := decode[api.Error](t, "GET "+target, r).Error
				if !strings.Contains(msg, c.host) || !strings.Contains(msg, "web_ui.allowed_hosts") {
					t.Errorf("GET %s with Host %q: error %q, want it to name the host and web_ui.allowed_hosts", target, c.host, msg)
				}
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	f := newFixture(t, baseConfig)
	path := programPath("My App", "/stop") // a no-op on a stopped program
	cases := []struct {
		name   string
		method string
		hdr    []string
		status int
	}{
		{"no Origin (a script)", "POST", nil, 200},
		{"same origin", "POST", []string{"Origin", "http://localhost:10000"}, 200},
		{"same origin, case differs", "POST", []string{"Origin", "http://LocalHost:10000"}, 200},
		{"same origin, default port", "POST", []string{"Host", "dash.example.com", "Origin", "http://dash.example.com"}, 200},
		{"same origin, fetch metadata same-origin", "POST", []string{"Origin", "http://localhost:10000", "Sec-Fetch-Site", "same-origin"}, 200},
		{"other host", "POST", []string{"Origin", "http://evil.example"}, 403},
		{"other port", "POST", []string{"Origin", "http://localhost:9999"}, 403},
		{"default port is not 10000", "POST", []string{"Origin", "http://localhost"}, 403},
		{"opaque origin", "POST", []string{"Origin", "null"}, 403},
		{"not a URL", "POST", []string{"Origin", "::::"}, 403},
		{"cross-site fetch without Origin", "POST", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site fetch with matching Origin", "POST", []string{"Origin", "http://localhost:10000", "Sec-Fetch-Site", "cross-site"}, 403},
		// Reading is not guarded by Origin: CORS already keeps other sites from reading answers.
		{"GET from another origin", "GET", []string{"Origin", "http://evil.example"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := path
			if c.method == "GET" {
				target = programPath("My App")
			}
			r := f.do(t, c.method, target, nil, c.hdr...)
			if r.status != c.status {
				t.Errorf("%s %s with %q = %d %s, want %d", c.method, target, c.hdr, r.status, r.body, c.status)
			}
		})
	}
}

func TestHostPolicyAllowed(t *testing.T) {
	p := newHostPolicy([]string{"Pyvisor.Example.", "*.corp.example", "fixed.example:8443", " "})
	cases := []struct {
		host string
		want bool
	}{
		{"pyvisor.example", true},
		{"PYVISOR.EXAMPLE.:80", true},
		{"a.b.corp.example", true},
		{"corp.example", false},
		{"xcorp.example", false},
		{"fixed.example:8443", true},
		{"fixed.example", false},
		{"[fe80::1%25eth0]:80", true},
		{"[2001:db8::1]:80", true},
		{"localhost.", true},
		{"", false},
		{":80", false},
	}
	for _, c := range cases {
		if got := p.allowed(c.host); got != c.want {
			t.Errorf("allowed(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	cases := []struct {
		origin, host string
		want         bool
	}{
		{"http://localhost:10000", "localhost:10000", true},
		{"https://dash.example", "dash.example", true},
		{"https://dash.example", "dash.example:443", true},
		{"https://dash.example", "dash.example:80", false},
		{"http://[::1]:10000", "[::1]:10000", true},
		{"http://[::1]", "[::1]", true},
		{"ftp://localhost:10000", "localhost:10000", false},
		{"null", "localhost", false},
		{"http://localhost:10000/path", "localhost:10000", true},
	}
	for _, c := range cases {
		if got := sameOrigin(c.origin, c.host); got != c.want {
			t.Errorf("sameOrigin(%q, %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := newFixture(t, baseConfig)
	cases := []struct {
		method, target string
		hdr            []string
	}{
		{"GET", "/healthz", nil},
		{"GET", "/", nil},
		{"GET", "/main.js", []string{"Accept-Encoding", "gzip"}},
		{"GET", "/app.css", nil},
		{"GET", "/api/programs", nil},
		{"GET", programPath("sleeper"), nil},
		{"POST", programPath("My App", "/stop"), nil},
		{"GET", programPath("My App", "/logs"), nil},
		{"GET", programPath("My App", "/logs?page=0"), nil},
		{"GET", "/api/programs/nope", nil},
		{"DELETE", "/api/programs", nil},
		{"GET", "/api/nothing", nil},
		{"GET", "/api/programs", []string{"Host", "evil.example"}},
		{"POST", programPath("My App", "/stop"), []string{"Origin", "http://evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.target+" "+strings.Join(c.hdr, " "), func(t *testing.T) {
			r := f.do(t, c.method, c.target, nil, c.hdr...)
			checkSecurityHeaders(t, c.method+" "+c.target, r.header)
		})
	}
}

func checkSecurityHeaders(t *testing.T, call string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want exactly %q", call, k, got, v)
		}
	}
}
