package web

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// routeCase is one request to a route of routes.go, as the route table
// below sends it.
type routeCase struct {
	pattern string // as registered in routes.go
	method  string
	target  string // the path sent
	public  bool   // served without credentials
	page    bool   // a browser page: without credentials, a redirect to the login page
	authed  int    // the status with valid credentials (or, if public, without)
}

// routeCases covers every route of routes.go; TestRouteTableComplete keeps
// it so. With credentials, actions go to programs where they are no-ops or
// refused for a reason other than credentials.
var routeCases = []routeCase{
	{"GET /healthz", "GET", "/healthz", true, false, 200},
	{"GET /api/programs", "GET", "/api/programs", false, false, 200},
	{"GET /api/programs/{name}", "GET", "/api/programs/sleeper", false, false, 200},
	{"POST /api/programs", "POST", "/api/programs", false, false, 400},
	{"PUT /api/programs/{name}", "PUT", "/api/programs/sleeper", false, false, 403},
	{"DELETE /api/programs/{name}", "DELETE", "/api/programs/sleeper", false, false, 403},
	{"POST /api/programs/{name}/start", "POST", "/api/programs/sleeper/start", false, false, 200},
	{"POST /api/programs/{name}/stop", "POST", "/api/programs/My%20App/stop", false, false, 200},
	{"POST /api/programs/{name}/restart", "POST", "/api/programs/sleeper/restart", false, false, 200},
	{"GET /api/programs/{name}/logs", "GET", "/api/programs/sleeper/logs", false, false, 200},
	{"GET /api/programs/{name}/logs/stream", "GET", "/api/programs/sleeper/logs/stream", false, false, 200},
	{"GET /api/programs/{name}/logs/download", "GET", "/api/programs/sleeper/logs/download", false, false, 200},
	{"GET /api/programs/{name}/logs/search", "GET", "/api/programs/sleeper/logs/search?q=x", false, false, 200},
	{"GET /api/programs/{name}/events", "GET", "/api/programs/sleeper/events", false, false, 200},
	{"GET /api/events/history", "GET", "/api/events/history", false, false, 200},
	{"GET /api/programs/{name}/settings", "GET", "/api/programs/sleeper/settings", false, false, 200},
	{"GET /api/programs/{name}/usage", "GET", "/api/programs/sleeper/usage", false, false, 200},
	{"POST /api/notify/test", "POST", "/api/notify/test", false, false, 501},
	{"GET /api/events", "GET", "/api/events", false, false, 200},
	{"GET /api/session", "GET", "/api/session", false, false, 200},
	{"POST /api/reload", "POST", "/api/reload", false, false, 501},
	{"GET /metrics", "GET", "/metrics", false, false, 200},
	{"GET /login", "GET", "/login", true, false, 200},
	{"POST /login", "POST", "/login", true, false, 303},
	{"POST /logout", "POST", "/logout", true, false, 303},
	{"GET /{$}", "GET", "/", false, true, 200},
	{"GET /app.css", "GET", "/app.css", true, false, 200},
	{"GET /{file}", "GET", "/main.js", false, false, 200},
	{"GET /{file}", "GET", "/index.html", false, true, 200},
	{"GET /{file}", "HEAD", "/index.html", false, true, 200},
	{"GET /{file}", "GET", "/no-such-file.js", false, false, 404},
}

// TestRouteTableComplete fails when routes.go registers a route that
// routeCases lacks (or routeCases names one that is gone): every route must
// be in the credential tests.
func TestRouteTableComplete(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var registered []string
	for _, m := range regexp.MustCompile(`\.Handle(?:Func)?\("([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		registered = append(registered, m[1])
	}
	if len(registered) < 10 {
		t.Fatalf("found only %d routes in routes.go (%q); the pattern of this test is out of date", len(registered), registered)
	}
	var tested []string
	for _, c := range routeCases {
		tested = append(tested, c.pattern)
	}
	for _, p := range registered {
		if !slices.Contains(tested, p) {
			t.Errorf("route %q of routes.go is not in routeCases: add it, with or without credentials", p)
		}
	}
	for _, p := range tested {
		if !slices.Contains(registered, p) {
			t.Errorf("routeCases has %q, which routes.go no longer registers", p)
		}
	}
	for _, c := range routeCases {
		if isPublic(c.pattern) != c.public {
			t.Errorf("isPublic(%q) = %v, but routeCases says public=%v", c.pattern, isPublic(c.pattern), c.public)
		}
	}
}

// TestEveryRouteNeedsCredentials sends every route's request without
// credentials, with wrong ones, with a revoked token, with an expired or
// forged session, and with valid ones.
func TestEveryRouteNeedsCredentials(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	af.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	c := client(t, "")
	expired := af.login(t, c, testPassword)
	af.clock.Advance(testLifetime)
	session := af.login(t, c, testPassword)

	// The revoked token works on this configuration...
	if r := call(t, c, "GET", af.url+"/api/programs", nil, "Authorization", "Bearer "+af.revoked); r.status != 200 {
		t.Fatalf("GET /api/programs with the token %q before its revocation = %d %s, want 200", "old", r.status, r.body)
	}
	// ...and not on the next one, which lacks it.
	creds := af.creds
	creds.Tokens = creds.Tokens[:1]
	revokedURL := serve(t, af.handler(t, creds)).URL

	refusals := []struct {
		name, base string
		hdr        []string
		expired    bool // a dead session: the redirect says so
	}{
		{"no credentials", af.url, nil, false},
		{"wrong token", af.url, []string{"Authorization", "Bearer pyv_WRONGTOKEN"}, false},
		{"token without Bearer", af.url, []string{"Authorization", af.token}, false},
		{"basic auth", af.url, []string{"Authorization", "Basic YWRtaW46eA=="}, false},
		{"wrong token with a valid session", af.url, append([]string{"Authorization", "Bearer x"}, cookieHeader(session)...), false},
		{"revoked token", revokedURL, []string{"Authorization", "Bearer " + af.revoked}, false},
		{"expired session", af.url, cookieHeader(expired), true},
		{"forged session", af.url, []string{"Cookie", sessionCookie + "=" + strings.Repeat("A", 43)}, true},
	}
	for _, rc := range routeCases {
		t.Run(rc.method+" "+rc.target, func(t *testing.T) {
			if rc.public {
				r := call(t, c, rc.method, af.url+rc.target, nil)
				if r.status != rc.authed {
					t.Errorf("%s %s without credentials = %d %s, want %d (a public route)", rc.method, rc.target, r.status, r.body, rc.authed)
				}
				checkSecurityHeaders(t, rc.method+" "+rc.target, r.header)
				return
			}
			for _, ref := range refusals {
				r := call(t, c, rc.method, ref.base+rc.target, nil, ref.hdr...)
				checkRefused(t, rc, ref.name, ref.expired, r)
			}
			for name, hdr := range map[string][]string{
				"valid token":   {"Authorization", "Bearer " + af.token},
				"valid session": cookieHeader(session),
			} {
				r := call(t, c, rc.method, af.url+rc.target, nil, hdr...)
				if r.status != rc.authed {
					t.Errorf("%s %s with a %s = %d %s, want %d", rc.method, rc.target, name, r.status, r.body, rc.authed)
				}
			}
		})
	}
	t.Run("no route", func(t *testing.T) {
		for _, target := range []string{"/api/nothing", "/a/b/c"} {
			r := call(t, c, "GET", af.url+target, nil)
			if r.status != 401 {
				t.Errorf("GET %s without credentials = %d %s, want 401", target, r.status, r.body)
			}
			if r := call(t, c, "GET", af.url+target, nil, "Authorization", "Bearer "+af.token); r.status != 404 {
				t.Errorf("GET %s with a valid token = %d %s, want 404", target, r.status, r.body)
			}
		}
	})
}

// checkRefused checks the answer r to the request of rc made with credentials
// that are not valid (why): a redirect to the login page for a page, else 401.
func checkRefused(t *testing.T, rc routeCase, why string, expired bool, r response) {
	t.Helper()
	call := rc.method + " " + rc.target + " with " + why
	checkSecurityHeaders(t, call, r.header)
	if rc.page {
		want := "login?next=" + strings.ReplaceAll(rc.target, "/", "%2F")
		if expired {
			want += "&expired=1"
		}
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("%s = %d, Location %q; want 303 to %q", call, r.status, r.header.Get("Location"), want)
		}
		return
	}
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="pyvisor"`) {
		t.Errorf("%s = %d (WWW-Authenticate %q) %s; want 401 with a Bearer challenge", call, r.status, r.header.Get("WWW-Authenticate"), r.body)
		return
	}
	if rc.method != "HEAD" {
		if msg := decode[api.Error](t, call, r).Error; msg == "" || strings.Contains(msg, secretValue) {
			t.Errorf("%s: error %q, want a message", call, msg)
		}
	}
}

func TestSafeNext(t *testing.T) {
	cases := []struct{ next, want string }{
		{"/", "./"},
		{"/index.html", "./index.html"},
		{"/index.html?x=1#top", "./index.html?x=1#top"},
		{"", "./"},
		{"//evil.example/", "./"},
		{"/\\evil.example", "./"},
		{"https://evil.example/", "./"},
		{"javascript:alert(1)", "./"},
		{"index.html", "./"},
		{"/\r\nSet-Cookie: x=1", "./"},
		{"/%2F%2Fevil.example", "./%2F%2Fevil.example"},
	}
	for _, c := range cases {
		if got := safeNext(c.next); got != c.want {
			t.Errorf("safeNext(%q) = %q, want %q", c.next, got, c.want)
		}
	}
}

func TestPathName(t *testing.T) {
	cases := []struct{ pattern, path, want string }{
		{"POST /api/programs/{name}/stop", "/api/programs/My%20App/stop", "My App"},
		{"DELETE /api/programs/{name}", "/api/programs/%3Cimg%3E", "<img>"},
		{"POST /api/programs", "/api/programs", ""},
		{"POST /login", "/login", ""},
		{"", "/x", ""},
		{"POST /api/programs/{name}/stop", "/api/programs/%zz/stop", ""},
	}
	for _, c := range cases {
		if got := pathName(c.pattern, c.path); got != c.want {
			t.Errorf("pathName(%q, %q) = %q, want %q", c.pattern, c.path, got, c.want)
		}
	}
}
