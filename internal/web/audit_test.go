package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// auditLine renders an audit record as "key=value ..." in attribute order.
func auditLine(rec slog.Record) string {
	var parts []string
	rec.Attrs(func(a slog.Attr) bool {
		parts = append(parts, a.Key+"="+a.Value.String())
		return true
	})
	return strings.Join(parts, " ")
}

// auditSince waits for an audit record after the first before ones (the
// client may have its answer before the server has logged it) and returns
// those records as lines.
func (af *authFixture) auditSince(t *testing.T, before int) []string {
	t.Helper()
	waitUntil(t, "an audit record", func() bool { return len(af.audit.records()) > before }, func() string { return "none came" })
	var lines []string
	for _, rec := range af.audit.records()[before:] {
		lines = append(lines, auditLine(rec))
	}
	return lines
}

func TestAudit(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	c := client(t, "")
	bearer := []string{"Authorization", "Bearer " + af.token}
	upload, uploadType := multipartBody(t, []field{{"name", "up<b>"}, {"script", "main.py"}}, []byte("not a zip"))

	steps := []struct {
		name   string
		send   func() response
		want   string // the one audit line
		secret string // must not be in the log
	}{
		{"read (not audited), then stop with a token", func() response {
			call(t, c, "GET", af.url+"/api/programs", nil, bearer...)
			call(t, c, "HEAD", af.url+"/api/programs", nil) // refused, not audited either
			return call(t, c, "POST", af.url+"/api/programs/My%20App/stop", nil, bearer...)
		}, `client=127.0.0.1 user=token:ci method=POST route=POST /api/programs/{name}/stop program=My App status=200 outcome=ok`, ""},
		{"stop without credentials", func() response {
			return call(t, c, "POST", af.url+"/api/programs/My%20App/stop", nil)
		}, `client=127.0.0.1 user=- method=POST route=POST /api/programs/{name}/stop program=My App status=401 outcome=refused`, ""},
		{"remove from another site", func() response {
			return call(t, c, "DELETE", af.url+"/api/programs/sleeper", nil, append(bearer, "Origin", "http://evil.example")...)
		}, `client=127.0.0.1 user=- method=DELETE route=DELETE /api/programs/{name} program=sleeper status=403 outcome=refused`, ""},
		{"upload of a bad ZIP", func() response {
			return call(t, c, "POST", af.url+"/api/programs", bytes.NewReader(upload), append(bearer, "Content-Type", uploadType)...)
		}, `client=127.0.0.1 user=token:ci method=POST route=POST /api/programs program=up<b> status=400 outcome=failed`, ""},
		{"failed login", func() response {
			body, hdr := form("username", "hunter2-typed-in-the-user-field", "password", "s3cret-typed")
			return call(t, c, "POST", af.url+"/login", body, hdr...)
		}, `client=127.0.0.1 user=- method=POST route=POST /login event=login failed status=303 outcome=refused`, "hunter2"},
		{"login", func() response {
			body, hdr := form("username", "admin", "password", testPassword)
			return call(t, c, "POST", af.url+"/login", body, hdr...)
		}, `client=127.0.0.1 user=admin method=POST route=POST /login event=login status=303 outcome=ok`, testPassword},
		{"unknown route", func() response {
			return call(t, c, "PATCH", af.url+"/api/nothing", nil, bearer...)
		}, `client=127.0.0.1 user=token:ci method=PATCH path=/api/nothing status=404 outcome=failed`, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := len(af.audit.records())
			r := s.send()
			lines := af.auditSince(t, before)
			if len(lines) != 1 || lines[0] != s.want {
				t.Errorf("%s (%d): audit records\n%q\nwant exactly\n%q", s.name, r.status, lines, s.want)
			}
			if s.secret != "" && strings.Contains(fmt.Sprint(lines), s.secret) {
				t.Errorf("%s: the audit log contains %q", s.name, s.secret)
			}
		})
	}
	t.Run("logout", func(t *testing.T) {
		ck := af.login(t, c, testPassword)
		before := len(af.audit.records())
		call(t, c, "POST", af.url+"/logout", nil, cookieHeader(ck)...)
		want := `client=127.0.0.1 user=admin method=POST route=POST /logout event=logout status=303 outcome=ok`
		if got := af.auditSince(t, before); len(got) != 1 || got[0] != want {
			t.Errorf("POST /logout: audit records %q, want %q", got, want)
		}
	})
}

func TestOutcome(t *testing.T) {
	cases := []struct {
		status  int
		refused bool
		want    string
	}{
		{200, false, "ok"}, {201, false, "ok"}, {204, false, "ok"}, {303, false, "ok"},
		{303, true, "refused"}, {401, false, "refused"}, {403, false, "refused"}, {429, false, "refused"},
		{400, false, "failed"}, {404, false, "failed"}, {409, false, "failed"}, {500, false, "failed"},
	}
	for _, c := range cases {
		if got := outcome(c.status, c.refused); got != c.want {
			t.Errorf("outcome(%d, %v) = %q, want %q", c.status, c.refused, got, c.want)
		}
	}
}
