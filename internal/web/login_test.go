package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pyvisor/pyvisor/internal/auth"
)

// sessionCookieOf returns the session cookie a response sets, or nil.
func sessionCookieOf(r response) *http.Cookie {
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == sessionCookie || ck.Name == "__Host-"+sessionCookie {
			return ck
		}
	}
	return nil
}

func TestLoginFlow(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	c := client(t, "")

	t.Run("login page", func(t *testing.T) {
		r := call(t, c, "GET", af.url+"/login?next=%2F", nil)
		if r.status != 200 || !strings.Contains(r.body, `name="password"`) || strings.Contains(r.body, "<script") {
			t.Fatalf("GET /login = %d %s; want 200 with a password field and no script", r.status, r.body)
		}
		if !strings.Contains(r.body, "Test &lt;b&gt;board&lt;/b&gt;") || strings.Contains(r.body, "<b>board") {
			t.Errorf("GET /login: the title is not escaped:\n%s", r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET /login: Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
		}
		checkSecurityHeaders(t, "GET /login", r.header)
	})

	t.Run("wrong password", func(t *testing.T) {
		body, hdr := form("username", "admin", "password", "wrong")
		r := call(t, c, "POST", af.url+"/login?next=%2Findex.html", body, hdr...)
		if r.status != 303 || r.header.Get("Location") != "login?failed=1&next=%2Findex.html" || sessionCookieOf(r) != nil {
			t.Fatalf("POST /login with a wrong password = %d, Location %q, cookie %v; want 303 back to the login page, no cookie",
				r.status, r.header.Get("Location"), sessionCookieOf(r))
		}
		page := call(t, c, "GET", af.url+"/"+r.header.Get("Location"), nil)
		if !strings.Contains(page.body, "Invalid username or password.") {
			t.Errorf("GET /%s: the page lacks the failure message:\n%s", r.header.Get("Location"), page.body)
		}
	})

	t.Run("unknown user gets the same answer", func(t *testing.T) {
		body, hdr := form("username", "root", "password", testPassword)
		r := call(t, c, "POST", af.url+"/login", body, hdr...)
		if r.status != 303 || r.header.Get("Location") != "login?failed=1&next=" {
			t.Errorf("POST /login as an unknown user = %d, Location %q; want what a wrong password gets", r.status, r.header.Get("Location"))
		}
	})

	t.Run("cross-site login", func(t *testing.T) {
		body, hdr := form("username", "admin", "password", testPassword)
		r := call(t, c, "POST", af.url+"/login", body, append(hdr, "Origin", "http://evil.example")...)
		if r.status != 403 || sessionCookieOf(r) != nil {
			t.Errorf("POST /login from another origin = %d, cookie %v; want 403 and no cookie", r.status, sessionCookieOf(r))
		}
	})

	var ck *http.Cookie
	t.Run("right password", func(t *testing.T) {
		body, hdr := form("username", "admin", "password", testPassword)
		r := call(t, c, "POST", af.url+"/login?next=%2Findex.html", body, hdr...)
		ck = sessionCookieOf(r)
		if r.status != 303 || r.header.Get("Location") != "./index.html" || ck == nil {
			t.Fatalf("POST /login = %d, Location %q, Set-Cookie %q; want 303 to ./index.html with a session cookie",
				r.status, r.header.Get("Location"), r.header.Values("Set-Cookie"))
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure ||
			ck.MaxAge != int(testLifetime.Seconds()) || len(ck.Value) < 40 {
			t.Errorf("session cookie %+v; want HttpOnly, SameSite=Strict, Path=/, Max-Age=%d, not Secure over HTTP",
				ck, int(testLifetime.Seconds()))
		}
		again := call(t, c, "GET", af.url+"/login?next=%2Findex.html", nil, cookieHeader(ck)...)
		if again.status != 303 || again.header.Get("Location") != "./index.html" {
			t.Errorf("GET /login when logged in = %d, Location %q; want 303 to ./index.html", again.status, again.header.Get("Location"))
		}
		who := call(t, c, "GET", af.url+"/api/session", nil, cookieHeader(ck)...)
		if who.status != 200 || strings.TrimSpace(who.body) != `{"auth":true,"user":"admin","via":"session"}` {
			t.Errorf("GET /api/session with the cookie = %d %s", who.status, who.body)
		}
	})

	t.Run("token session info", func(t *testing.T) {
		who := call(t, c, "GET", af.url+"/api/session", nil, "Authorization", "Bearer "+af.token)
		if strings.TrimSpace(who.body) != `{"auth":true,"user":"token:ci","via":"token"}` {
			t.Errorf("GET /api/session with a token = %d %s", who.status, who.body)
		}
	})

	t.Run("logout", func(t *testing.T) {
		if r := call(t, c, "GET", af.url+"/api/programs", nil, cookieHeader(ck)...); r.status != 200 {
			t.Fatalf("GET /api/programs with the session before logout = %d", r.status)
		}
		r := call(t, c, "POST", af.url+"/logout", nil, cookieHeader(ck)...)
		gone := sessionCookieOf(r)
		if r.status != 303 || r.header.Get("Location") != "login?loggedout=1" || gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
			t.Fatalf("POST /logout = %d, Location %q, cookie %+v; want 303 to the login page deleting the cookie",
				r.status, r.header.Get("Location"), gone)
		}
		if r := call(t, c, "GET", af.url+"/api/programs", nil, cookieHeader(ck)...); r.status != 401 {
			t.Errorf("GET /api/programs with the session after logout = %d, want 401", r.status)
		}
		page := call(t, c, "GET", af.url+"/login?loggedout=1", nil)
		if !strings.Contains(page.body, "You have logged out.") {
			t.Errorf("GET /login?loggedout=1 lacks the message:\n%s", page.body)
		}
	})

	t.Run("next leads only here", func(t *testing.T) {
		body, hdr := form("username", "admin", "password", testPassword)
		r := call(t, c, "POST", af.url+"/login?next=%2F%2Fevil.example%2F", body, hdr...)
		if r.status != 303 || r.header.Get("Location") != "./" {
			t.Errorf("POST /login?next=//evil.example/ = %d, Location %q; want 303 to ./", r.status, r.header.Get("Location"))
		}
	})
}

// TestSessionCookieSecurity logs in under each web_ui.secure_cookies policy,
// over HTTP and HTTPS: the cookie is Secure as the policy says, named with the
// __Host- prefix (Path=/, no Domain) when it is, and the session works under
// that name only; logging out deletes it by that name.
func TestSessionCookieSecurity(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	const plain, host = sessionCookie, "__Host-" + sessionCookie
	cases := []struct {
		name       string
		policy     CookieSecurity
		tls        bool
		wantName   string
		wantSecure bool
	}{
		{"auto over HTTP", CookiesSecureOverTLS, false, plain, false},
		{"auto over HTTPS", CookiesSecureOverTLS, true, host, true},
		{"always over HTTP (behind an HTTPS proxy)", CookiesAlwaysSecure, false, host, true},
		{"always over HTTPS", CookiesAlwaysSecure, true, host, true},
		{"never over HTTP", CookiesNeverSecure, false, plain, false},
		{"never over HTTPS", CookiesNeverSecure, true, plain, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := auth.New(af.creds, auth.Options{SessionLifetime: testLifetime, Now: af.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			h := NewHandler(Options{Supervisor: af.sup, Logger: slog.New(af.audit), Auth: a, SecureCookies: tc.policy})
			var srv *httptest.Server
			c := client(t, "")
			if tc.tls {
				srv = serveTLS(t, h)
				c = srv.Client()
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			} else {
				srv = serve(t, h)
			}
			body, hdr := form("username", "admin", "password", testPassword)
			r := call(t, c, "POST", srv.URL+"/login", body, hdr...)
			ck := sessionCookieOf(r)
			if r.status != 303 || ck == nil {
				t.Fatalf("POST /login = %d, Set-Cookie %q; want 303 and a session cookie", r.status, r.header.Values("Set-Cookie"))
			}
			if ck.Name != tc.wantName || ck.Secure != tc.wantSecure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly {
				t.Errorf("session cookie %+v; want the name %s, Secure %v, Path=/, no Domain, HttpOnly", ck, tc.wantName, tc.wantSecure)
			}
			if r := call(t, c, "GET", srv.URL+"/api/programs", nil, cookieHeader(ck)...); r.status != 200 {
				t.Errorf("GET /api/programs with the cookie = %d %s, want 200", r.status, r.body)
			}
			other := plain
			if ck.Name == plain {
				other = host
			}
			if r := call(t, c, "GET", srv.URL+"/api/programs", nil, "Cookie", other+"="+ck.Value); r.status != 401 {
				t.Errorf("GET /api/programs with the session under the name %s = %d, want 401", other, r.status)
			}
			out := call(t, c, "POST", srv.URL+"/logout", nil, append(cookieHeader(ck), "Origin", srv.URL)...)
			if del := sessionCookieOf(out); del == nil || del.Name != tc.wantName || del.MaxAge >= 0 {
				t.Errorf("POST /logout = %d, Set-Cookie %q; want the cookie %s deleted", out.status, out.header.Values("Set-Cookie"), tc.wantName)
			}
		})
	}
}

// TestLoginRateLimit: a scripted burst of bad logins from 127.0.0.1 is cut
// off after the free attempts, while the right password from 127.0.0.2 gets in.
func TestLoginRateLimit(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	attacker, user := client(t, "127.0.0.1"), client(t, "127.0.0.2")
	const burst = 30
	statuses := make([]int, burst)
	retry := make([]string, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			body, hdr := form("username", "admin", "password", "guess"+strconv.Itoa(i))
			r := call(t, attacker, "POST", af.url+"/login", body, hdr...)
			statuses[i], retry[i] = r.status, r.header.Get("Retry-After")
		})
	}
	wg.Wait()
	failed, limited := 0, 0
	for i, s := range statuses {
		switch s {
		case 303:
			failed++
		case 429:
			limited++
			if n, err := strconv.Atoi(retry[i]); err != nil || n < 1 {
				t.Errorf("a 429 answer has Retry-After %q, want whole seconds", retry[i])
			}
		default:
			t.Errorf("a bad login in the burst got %d", s)
		}
	}
	if failed != 5 || limited != burst-5 {
		t.Errorf("%d bad logins from 127.0.0.1: %d checked (303), %d limited (429); want 5 and %d", burst, failed, limited, burst-5)
	}

	body, hdr := form("username", "admin", "password", testPassword)
	r := call(t, attacker, "POST", af.url+"/login", body, hdr...)
	if r.status != 429 || sessionCookieOf(r) != nil || !strings.Contains(r.body, "Too many failed logins") {
		t.Errorf("the right password from 127.0.0.1 during the lockout = %d, cookie %v; want 429 with the login page", r.status, sessionCookieOf(r))
	}
	checkSecurityHeaders(t, "POST /login (429)", r.header)
	ck := af.login(t, user, testPassword) // from 127.0.0.2
	if r := call(t, user, "GET", af.url+"/api/programs", nil, cookieHeader(ck)...); r.status != 200 {
		t.Errorf("GET /api/programs from 127.0.0.2 after its login = %d, want 200", r.status)
	}
}

// TestOpenServer: without an authenticator every route is open, and the
// login routes send the browser to the dashboard.
func TestOpenServer(t *testing.T) {
	f := newFixture(t, baseConfig)
	for _, c := range []struct {
		method, target string
		status         int
		location, body string
	}{
		{"GET", "/api/programs", 200, "", ""},
		{"GET", "/", 200, "", ""},
		{"GET", "/api/session", 200, "", `{"auth":false,"user":null,"via":null}`},
		{"GET", "/login", 303, "./", ""},
		{"POST", "/logout", 303, "./", ""},
		{"POST", "/login", 404, "", ""},
	} {
		r := f.do(t, c.method, c.target, nil)
		if r.status != c.status || r.header.Get("Location") != c.location || c.body != "" && strings.TrimSpace(r.body) != c.body {
			t.Errorf("%s %s on an open server = %d, Location %q, %s; want %d, %q, %s",
				c.method, c.target, r.status, r.header.Get("Location"), r.body, c.status, c.location, c.body)
		}
	}
}

// TestSessionEndsStream: an event stream opened with a session ends when the
// session expires, so that a page left open meets the login again.
func TestSessionEndsStream(t *testing.T) {
	f := newFixture(t, baseConfig)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash := auth.NewToken()
	a, err := auth.New(auth.Credentials{Username: "admin", PasswordHash: string(hash),
		Tokens: []auth.Token{{Name: "ci", SHA256: tokenHash}}}, auth.Options{SessionLifetime: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, NewHandler(Options{Supervisor: f.sup, Logger: slog.New(slog.DiscardHandler), Auth: a}))
	af := &authFixture{fixture: f, url: srv.URL}
	ck := af.login(t, client(t, ""), testPassword)

	open := func(hdr ...string) *http.Response {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			cancel()
			t.Fatalf("GET /api/events with %q: %v %v", hdr[0], resp, err)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp
	}
	withSession := open(cookieHeader(ck)...)
	withToken := open("Authorization", "Bearer "+token)
	var tokenBytes atomic.Int64
	go io.Copy(writerFunc(func(p []byte) (int, error) { tokenBytes.Add(int64(len(p))); return len(p), nil }), withToken.Body)
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, withSession.Body)
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("the stream of the session ended with %v, want a clean end", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the event stream of a session of 2 s still runs after %v", waitTimeout)
	}
	// A token has no expiry: its stream goes on (an event follows every CPU sample).
	n := tokenBytes.Load()
	waitUntil(t, "more events on the token's stream", func() bool { return tokenBytes.Load() > n },
		func() string { return fmt.Sprintf("%d bytes received in all", tokenBytes.Load()) })
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLogoutEndsStreams: a logout ends the event and log streams opened with
// that session, in every tab, by the next ping at the latest.
func TestLogoutEndsStreams(t *testing.T) {
	t.Parallel()
	af := newAuthFixture(t, baseConfig)
	c := client(t, "")
	ck := af.login(t, c, testPassword)
	ended := make(chan string, 2)
	for _, path := range []string{"/api/events", "/api/programs/sleeper/logs/stream"} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", af.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(cookieHeader(ck)[0], cookieHeader(ck)[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s with the session: %v %v", path, resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		go func() {
			io.Copy(io.Discard, resp.Body)
			ended <- path
		}()
	}
	body, hdr := form()
	if r := call(t, c, "POST", af.url+"/logout", body, append(hdr, cookieHeader(ck)...)...); r.status != 303 {
		t.Fatalf("POST /logout = %d %s, want 303", r.status, r.body)
	}
	for range 2 {
		select {
		case <-ended:
		case <-time.After(pingEvery + waitTimeout):
			t.Fatalf("a stream of the session still runs %v after the logout", pingEvery+waitTimeout)
		}
	}
}

// TestRefusal: each limit on logins gets its status and words; only a
// server too busy to check a password answers 503.
func TestRefusal(t *testing.T) {
	cases := []struct {
		limit      auth.Limit
		wantStatus int
		wantMsg    string
	}{
		{auth.LimitAddress, 429, "from your address"},
		{auth.LimitNetwork, 429, "from your network"},
		{auth.LimitServer, 429, "on this server"},
		{auth.LimitBusy, 503, "being checked at once"},
	}
	for _, c := range cases {
		status, event, msg := refusal(c.limit)
		if status != c.wantStatus || !strings.Contains(msg, c.wantMsg) || event == "" {
			t.Errorf("refusal(%v) = %d, %q, %q; want %d, an event, and words containing %q", c.limit, status, event, msg, c.wantStatus, c.wantMsg)
		}
	}
}
