package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// testPassword is the admin's password in the tests with authentication.
const testPassword = "correct horse battery staple"

// testLifetime is the session lifetime of the tests; the clock, not the
// wall, makes sessions expire.
const testLifetime = time.Hour

// authFixture is a fixture whose handler requires credentials, served on a
// real port of 127.0.0.1.
type authFixture struct {
	*fixture
	url   string // of the server, without a trailing slash
	clock *testkit.Clock
	// token is a valid API token (named "ci"); revoked was valid before the
	// configuration was changed (see newAuthenticator).
	token, revoked string
	audit          *recorder // the "audit" records
	creds          auth.Credentials
}

// newAuthFixture runs yaml as newFixture does, with an admin password (bcrypt
// at the lowest cost: the race detector slows bcrypt thirtyfold) and the API
// tokens "ci" and "old".
func newAuthFixture(t *testing.T, yaml string) *authFixture {
	t.Helper()
	f := newFixture(t, yaml)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash := auth.NewToken()
	revoked, revokedHash := auth.NewToken()
	af := &authFixture{
		fixture: f,
		clock:   testkit.NewClock(time.Now()),
		token:   token,
		revoked: revoked,
		audit:   &recorder{msg: "audit"},
		creds: auth.Credentials{Username: "admin", PasswordHash: string(hash),
			Tokens: []auth.Token{{Name: "ci", SHA256: tokenHash}, {Name: "old", SHA256: revokedHash}}},
	}
	f.h = af.handler(t, af.creds)
	srv := serve(t, f.h)
	af.url = srv.URL
	return af
}

// handler builds a handler over the fixture's supervisor with creds, as a
// restarted manager with that configuration would.
func (af *authFixture) handler(t *testing.T, creds auth.Credentials) http.Handler {
	t.Helper()
	a, err := auth.New(creds, auth.Options{SessionLifetime: testLifetime, Now: af.clock.Now})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return NewHandler(Options{Supervisor: af.sup, Title: "Test <b>board</b>",
		Logger: slog.New(af.audit), Auth: a})
}

// client returns an HTTP client that does not follow redirects and, with
// local set, connects from that address of 127/8 (Linux routes all of it to lo).
func client(t *testing.T, local string) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if local != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		tr.DialContext = d.DialContext
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// call sends a request to base+target with c and returns the response with
// its body read (up to 64 KiB; the event streams are cut there by closing
// them). hdr are header name, value pairs.
func call(t *testing.T, c *http.Client, method, target string, body io.Reader, hdr ...string) response {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp := testkit.Do(ctx, t, c, method, target, body, hdr...)
	defer resp.Body.Close()
	var b []byte
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// form is a form-encoded body and its content type, as header pairs for call.
func form(kv ...string) (io.Reader, []string) {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode()), []string{"Content-Type", "application/x-www-form-urlencoded"}
}

// login logs in with password from c and returns the session cookie, failing
// the test unless the login succeeds.
func (af *authFixture) login(t *testing.T, c *http.Client, password string) *http.Cookie {
	t.Helper()
	body, hdr := form("username", "admin", "password", password)
	r := call(t, c, "POST", af.url+"/login", body, hdr...)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == sessionCookie && r.status == http.StatusSeeOther {
			return ck
		}
	}
	t.Fatalf("POST /login as admin = %d, Location %q, Set-Cookie %q; want 303 with a session cookie",
		r.status, r.header.Get("Location"), r.header.Values("Set-Cookie"))
	return nil
}

// cookieHeader is the Cookie header that sends ck.
func cookieHeader(ck *http.Cookie) []string {
	return []string{"Cookie", ck.Name + "=" + ck.Value}
}

// serveTLS serves h over HTTPS on 127.0.0.1 and returns the server.
func serveTLS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer("", h)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
