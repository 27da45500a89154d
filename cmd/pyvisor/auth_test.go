package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/testkit"
	"github.com/pyvisor/pyvisor/internal/web"
)

func TestDecideAccess(t *testing.T) {
	cases := []struct {
		mode config.AuthMode
		host string
		want access
	}{
		{config.AuthDefault, "127.0.0.1", accessOpen},
		{config.AuthDefault, "127.3.2.1", accessOpen},
		{config.AuthDefault, "::1", accessOpen},
		{config.AuthDefault, "[::1]", accessOpen},
		{config.AuthDefault, "::ffff:127.0.0.1", accessOpen},
		{config.AuthDefault, "localhost", accessOpen},
		{config.AuthDefault, "LocalHost", accessOpen},
		{config.AuthDefault, "0.0.0.0", accessGenerated},
		{config.AuthDefault, "::", accessGenerated},
		{config.AuthDefault, "", accessGenerated},
		{config.AuthDefault, "192.168.1.10", accessGenerated},
		{config.AuthDefault, "myhost.lan", accessGenerated},
		{config.AuthDefault, "localhost.evil.example", accessGenerated},
		{config.AuthOff, "0.0.0.0", accessOff},
		{config.AuthOff, "127.0.0.1", accessOff},
		{config.AuthGenerated, "127.0.0.1", accessGenerated},
		{config.AuthConfigured, "127.0.0.1", accessConfigured},
		{config.AuthConfigured, "0.0.0.0", accessConfigured},
	}
	for _, c := range cases {
		if got := decideAccess(c.mode, c.host, false); got != c.want {
			t.Errorf("decideAccess(%v, %q, false) = %v, want %v", c.mode, c.host, got, c.want)
		}
	}
	// A manager that runs as root, or programs as other users, needs a login on loopback too.
	shared := []struct {
		mode config.AuthMode
		host string
		want access
	}{
		{config.AuthDefault, "127.0.0.1", accessGenerated},
		{config.AuthDefault, "::1", accessGenerated},
		{config.AuthDefault, "localhost", accessGenerated},
		{config.AuthDefault, "0.0.0.0", accessGenerated},
		{config.AuthOff, "127.0.0.1", accessOff},
		{config.AuthGenerated, "127.0.0.1", accessGenerated},
		{config.AuthConfigured, "127.0.0.1", accessConfigured},
	}
	for _, c := range shared {
		if got := decideAccess(c.mode, c.host, true); got != c.want {
			t.Errorf("decideAccess(%v, %q, true) = %v, want %v", c.mode, c.host, got, c.want)
		}
	}
}

func TestSharedManager(t *testing.T) {
	nobody := &config.User{Name: "nobody", UID: 65534, GID: 65534}
	me := &config.User{Name: "me", UID: 1000, GID: 1000}
	withUsers := func(global *config.User, programs ...*config.User) *config.Config {
		c := config.Default(t.TempDir())
		c.User = global
		for i, u := range programs {
			p := c.NewProgram(fmt.Sprint("p", i), "a.py")
			p.User = u
			c.Programs = append(c.Programs, p)
		}
		return c
	}
	cases := []struct {
		name string
		euid int
		cfg  *config.Config
		want bool
	}{
		{"root", 0, withUsers(nil), true},
		{"root running programs as nobody", 0, withUsers(nobody), true},
		{"a user alone", 1000, withUsers(nil, nil), false},
		{"a user naming itself", 1000, withUsers(me, me), false},
		{"a global user of another uid", 1000, withUsers(nobody), true},
		{"a program of another uid", 1000, withUsers(nil, nil, nobody), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := sharedManager(c.euid, c.cfg); got != c.want {
				t.Errorf("sharedManager(%d, %s) = %v, want %v", c.euid, c.name, got, c.want)
			}
		})
	}
}

// waitOutput waits until the manager's stdout matches re and returns the
// submatches.
func (m *managerProcess) waitOutput(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	// Generous: under -race a bcrypt hash of cost 12 takes seconds.
	deadline := time.Now().Add(90 * time.Second)
	for {
		if sm := re.FindStringSubmatch(m.stdout.String()); sm != nil {
			return sm
		}
		if time.Now().After(deadline) || m.cmd.ProcessState != nil {
			t.Fatalf("manager's stdout never matched %s:\n%s\nstderr:\n%s", re, m.stdout, m.stderr)
		}
		time.Sleep(20 * time.Millisecond) // output gives no notice
	}
}

// stop ends the manager with SIGTERM and waits for its exit.
func (m *managerProcess) stop(t *testing.T) {
	t.Helper()
	m.cmd.Process.Signal(syscall.SIGTERM)
	if err := m.cmd.Wait(); err != nil {
		t.Fatalf("manager exit after SIGTERM: %v\nstderr:\n%s", err, m.stderr)
	}
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects(tr *http.Transport) *http.Client {
	return &http.Client{Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// send sends a request and returns its status, headers and body.
func send(t *testing.T, c *http.Client, method, target string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	resp := testkit.Do(t.Context(), t, c, method, target, body, hdr...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// loginCookie posts the login form and returns the session cookie ("" when
// the login failed) and the status.
func loginCookie(t *testing.T, c *http.Client, base, user, password string) (string, int) {
	t.Helper()
	form := url.Values{"username": {user}, "password": {password}}.Encode()
	status, hdr, _ := send(t, c, "POST", base+"/login", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range (&http.Response{Header: hdr}).Cookies() {
		if (ck.Name == "pyvisor_session" || ck.Name == "__Host-pyvisor_session") && ck.Value != "" {
			return ck.Name + "=" + ck.Value, status
		}
	}
	return "", status
}

var generatedRE = regexp.MustCompile(`Generated admin password for user admin: written to (\S+) \(mode 0600\)`)

// TestGeneratedPassword starts managers on 0.0.0.0 without auth settings,
// their stdout a pipe (as under systemd, whose journal keeps it): the first
// writes a password that works to a file readable by its user only and
// prints where, not the password; requests without it are refused; the next
// start reuses the stored hash and generates no password.
func TestGeneratedPassword(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 0.0.0.0, port: %d}\n", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := noRedirects(http.DefaultTransport.(*http.Transport).Clone())
	path := filepath.Join(dir, config.AuthFileName)

	m := startManager(t, dir)
	passwordPath := m.waitOutput(t, generatedRE)[1]
	m.waitOutput(t, regexp.MustCompile(`Web UI available at http://0\.0\.0\.0:`))
	data, err := os.ReadFile(passwordPath)
	password := strings.TrimSpace(string(data))
	if info, statErr := os.Stat(passwordPath); err != nil || statErr != nil || info.Mode().Perm() != 0o600 ||
		passwordPath != filepath.Join(dir, config.GeneratedPasswordFileName) || len(password) < 20 {
		t.Fatalf("the generated password file %s: %v, %v, %q; want a long password in %s, mode 0600",
			passwordPath, err, statErr, password, filepath.Join(dir, config.GeneratedPasswordFileName))
	}
	if out := m.stdout.String(); strings.Contains(out, password) || !strings.Contains(out, "cat "+passwordPath) {
		t.Errorf("the manager's stdout, not a terminal, shows the password or not how to read it:\n%s", out)
	}
	stored, err := os.ReadFile(path)
	info, _ := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 || strings.Contains(string(stored), password) {
		t.Fatalf("%s: %v, mode %v, content %s; want mode 0600 and no password in it", path, err, info.Mode(), stored)
	}
	if status, _, body := send(t, c, "GET", base+"/api/programs", nil); status != 401 {
		t.Errorf("GET /api/programs without credentials = %d %s, want 401", status, body)
	}
	if status, hdr, _ := send(t, c, "GET", base+"/", nil); status != 303 || !strings.HasPrefix(hdr.Get("Location"), "login?") {
		t.Errorf("GET / without credentials = %d, Location %q; want 303 to the login page", status, hdr.Get("Location"))
	}
	if status, _, _ := send(t, c, "GET", base+"/healthz", nil); status != 200 {
		t.Errorf("GET /healthz = %d, want 200 (public)", status)
	}
	cookie, status := loginCookie(t, c, base, "admin", password)
	if cookie == "" {
		t.Fatalf("POST /login with the printed password = %d and no session cookie\nstderr:\n%s", status, m.stderr)
	}
	if status, _, body := send(t, c, "GET", base+"/api/programs", nil, "Cookie", cookie); status != 200 {
		t.Errorf("GET /api/programs with the session = %d %s, want 200", status, body)
	}
	if !strings.Contains(m.stderr.String(), `msg=audit client=127.0.0.1 user=admin method=POST route="POST /login" event=login status=303 outcome=ok`) {
		t.Errorf("the manager's log lacks the audit record of the login:\n%s", m.stderr)
	}

	// The client commands on this machine read the token the manager left
	// beside its config; given only the URL, they have none.
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	cfgPath := filepath.Join(dir, "process_manager.yaml")
	tokenPath := filepath.Join(dir, config.LocalTokenFileName)
	localToken, err := os.ReadFile(tokenPath)
	if info, statErr := os.Stat(tokenPath); err != nil || statErr != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the local token file %s: %v, %v; want one of mode 0600", tokenPath, err, statErr)
	}
	if r := cli("reload", "-c", cfgPath); r.code != 0 {
		t.Errorf("reload -c %s without PYVISOR_TOKEN: %v; want exit 0 with the local token", cfgPath, r)
	}
	if r := cli("status", "--url", base); r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Errorf("status --url %s without PYVISOR_TOKEN: %v; want exit 1 and 401", base, r)
	}
	m.stop(t)
	if want := `user=token:(local) method=POST route="POST /api/reload"`; !strings.Contains(m.stderr.String(), want) {
		t.Errorf("the manager's log lacks the audit record %q of the client's reload:\n%s", want, m.stderr)
	}

	m = startManager(t, dir)
	m.waitOutput(t, regexp.MustCompile(`Web UI available at`))
	if out := m.stdout.String(); strings.Contains(out, "Generated admin password") || strings.Contains(out, password) ||
		!strings.Contains(out, "still in "+passwordPath) {
		t.Errorf("second start printed a password, or no reminder to delete %s:\n%s", passwordPath, out)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, stored) {
		t.Errorf("second start changed %s:\n%s\nwas\n%s", path, again, stored)
	}
	if status, _, _ := send(t, c, "GET", base+"/api/programs", nil, "Cookie", cookie); status != 401 {
		t.Errorf("GET /api/programs with a session of the previous manager = %d, want 401 (sessions live in memory)", status)
	}
	if cookie, status := loginCookie(t, c, base, "admin", password); cookie == "" {
		t.Errorf("POST /login with the first password on the second start = %d and no cookie", status)
	}
	// A new start leaves a new local token; the old one no longer works.
	if again, _ := os.ReadFile(tokenPath); bytes.Equal(again, localToken) {
		t.Errorf("second start left the same local token in %s", tokenPath)
	}
	old := "Bearer " + strings.TrimSpace(string(localToken))
	if status, _, _ := send(t, c, "GET", base+"/api/programs", nil, "Authorization", old); status != 401 {
		t.Errorf("GET /api/programs with the previous start's local token = %d, want 401", status)
	}
	if r := cli("status", "-c", cfgPath); r.code != 0 {
		t.Errorf("status -c %s on the second start: %v; want exit 0 with the new local token", cfgPath, r)
	}
}

// TestAuthFalse: "auth: false" serves openly on 0.0.0.0, warning at every start.
func TestAuthFalse(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 0.0.0.0, port: %d, auth: false}\n", port))
	for i := range 2 {
		m := startManager(t, dir)
		m.waitOutput(t, regexp.MustCompile(`Web UI available at`))
		if !strings.Contains(m.stderr.String(), "WARNING: web_ui.auth is false") {
			t.Errorf("start %d: no warning on stderr:\n%s", i+1, m.stderr)
		}
		if strings.Contains(m.stdout.String(), "password") {
			t.Errorf("start %d: stdout mentions a password:\n%s", i+1, m.stdout)
		}
		status, _, body := send(t, http.DefaultClient, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/programs", port), nil)
		if status != 200 {
			t.Errorf("start %d: GET /api/programs without credentials = %d %s, want 200", i+1, status, body)
		}
		m.stop(t)
	}
	for _, name := range []string{config.AuthFileName, config.LocalTokenFileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("auth: false created %s", name)
		}
	}
}

// runWith runs the binary in dir with stdin and returns its exit code and output.
func runWith(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, stdin string
		args        []string
		stderr      string
	}{
		{"hash-password without input", "", []string{"hash-password"}, "no password on stdin"},
		{"hash-password of an empty line", "\n", []string{"hash-password"}, "no password on stdin"},
		{"hash-password too long", strings.Repeat("x", 73) + "\n", []string{"hash-password"}, "73 bytes long"},
		{"hash-password too short", "eleven-char\n", []string{"hash-password"}, "at least 12 characters"},
		{"hash-password of 11 two-byte characters", strings.Repeat("é", 11) + "\n", []string{"hash-password"}, "11 characters long"},
		{"hash-password with an argument", "x\n", []string{"hash-password", "x"}, `unexpected argument "x"`},
		{"new-token without a name", "", []string{"new-token"}, "usage: pyvisor new-token NAME"},
		{"new-token with a bad name", "", []string{"new-token", "my token"}, "not a token name"},
		{"new-token with two names", "", []string{"new-token", "a", "b"}, `unexpected argument "b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runWith(t, dir, c.stdin, c.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, c.stderr) {
				t.Errorf("pyvisor %q with stdin %q: exit %d, stdout %q, stderr %q; want 2, nothing, and %q",
					c.args, c.stdin, code, stdout, stderr, c.stderr)
			}
		})
	}
}

var tokenRE = regexp.MustCompile(`(?s)Token ci \(shown only this once.*?\):\n(pyv_\S+)\n\nAdd this entry to web_ui.auth.tokens in the configuration:\n(      - \{name: ci, sha256: "[0-9a-f]{64}"\})\n$`)

// TestTLSWithConfiguredCredentials: a password hashed by hash-password (read
// from a pipe) and a token made by new-token, pasted into the configuration,
// work over HTTPS with a certificate made here.
func TestTLSWithConfiguredCredentials(t *testing.T) {
	const password = "pipe-fed password"
	code, hash, stderr := runWith(t, t.TempDir(), password+"\n", "hash-password")
	hash = strings.TrimSpace(hash)
	if code != 0 || !strings.HasPrefix(hash, "$2a$12$") || auth.CheckPasswordHash(hash) != nil {
		t.Fatalf("hash-password = exit %d, %q, stderr %q; want a bcrypt hash of cost 12", code, hash, stderr)
	}
	code, out, stderr := runWith(t, t.TempDir(), "", "new-token", "ci")
	sm := tokenRE.FindStringSubmatch(out)
	if code != 0 || sm == nil {
		t.Fatalf("new-token ci = exit %d, stdout:\n%s\nstderr %q; want the token and its entry", code, out, stderr)
	}
	token, entry := sm[1], sm[2]

	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`web_ui:
  host: 127.0.0.1
  port: %d
  tls_cert: cert.pem
  tls_key: %s
  auth:
    username: ops
    password_hash: %q
    tokens:
%s
`, port, "key.pem", hash, entry))
	cert := testkit.WriteCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	m := startManager(t, dir)
	m.waitOutput(t, regexp.MustCompile(fmt.Sprintf(`Web UI available at https://127\.0\.0\.1:%d\n`, port)))
	if !strings.Contains(m.stdout.String(), `Login required (web_ui.auth): user ops, 1 API token(s)`) {
		t.Errorf("stdout lacks the access summary:\n%s", m.stdout)
	}

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	c := noRedirects(tr)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	if status, _, body := send(t, c, "GET", base+"/api/programs", nil); status != 401 {
		t.Errorf("GET /api/programs over HTTPS without credentials = %d %s, want 401", status, body)
	}
	if status, _, body := send(t, c, "GET", base+"/api/programs", nil, "Authorization", "Bearer "+token); status != 200 {
		t.Errorf("GET /api/programs over HTTPS with the new token = %d %s, want 200", status, body)
	}
	if status, _, _ := send(t, c, "GET", base+"/api/programs", nil, "Authorization", "Bearer "+token+"x"); status != 401 {
		t.Errorf("GET /api/programs with a wrong token = %d, want 401", status)
	}
	if cookie, status := loginCookie(t, c, base, "ops", password+"x"); cookie != "" || status != 303 {
		t.Errorf("POST /login with a wrong password = %d, cookie %q; want 303 and no cookie", status, cookie)
	}
	cookie, status := loginCookie(t, c, base, "ops", password)
	if cookie == "" {
		t.Fatalf("POST /login with the hashed password = %d and no cookie\nstderr:\n%s", status, m.stderr)
	}
	if !strings.HasPrefix(cookie, "__Host-pyvisor_session=") {
		t.Errorf("POST /login over HTTPS set the cookie %q; want __Host-pyvisor_session (Secure)", cookie)
	}
	if status, _, body := send(t, c, "GET", base+"/api/session", nil, "Cookie", cookie); status != 200 || !strings.Contains(body, `"user":"ops"`) {
		t.Errorf("GET /api/session with the session = %d %s, want ops", status, body)
	}
	if status, _, _ := send(t, http.DefaultClient, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/programs", port), nil); status != 400 {
		t.Errorf("plain HTTP to the HTTPS port = %d, want 400", status)
	}

	// The client commands take the address and the certificate from the
	// configuration: https, trusting exactly the certificate in tls_cert.
	cfgPath := filepath.Join(dir, "process_manager.yaml")
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", token)
	if r := cli("status", "-c", cfgPath); r.code != 0 || r.stdout != "No programs are configured.\n" {
		t.Errorf("status -c %s over HTTPS with the token: %v; want exit 0 and the (empty) list", cfgPath, r)
	}
	t.Setenv("PYVISOR_TOKEN", "")
	if r := cli("status", "-c", cfgPath); r.code != 0 {
		t.Errorf("status -c %s over HTTPS with the manager's local token: %v; want exit 0", cfgPath, r)
	}
	t.Setenv("PYVISOR_TOKEN", token+"x") // the variable wins over the local token
	if r := cli("status", "-c", cfgPath); r.code != 1 || !strings.Contains(r.stderr, "PYVISOR_TOKEN") {
		t.Errorf("status -c %s over HTTPS with a wrong PYVISOR_TOKEN: %v; want exit 1 and advice on PYVISOR_TOKEN", cfgPath, r)
	}
	testkit.WriteCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")) // another certificate in the file than the manager serves
	t.Setenv("PYVISOR_TOKEN", token)
	if r := cli("status", "-c", cfgPath); r.code == 0 || !strings.Contains(r.stderr, "not the one in") {
		t.Errorf("status -c %s when the manager's certificate is not the file's: %v; want a refusal naming the file", cfgPath, r)
	}
}

func TestGeneratedNotice(t *testing.T) {
	const pw = "SECRETPASSWORD"
	cases := []struct {
		onTerminal   bool
		want, refuse []string
	}{
		{true, []string{"Generated admin password: " + pw + " (user admin)", "stored hashed in /d/auth.json", "only this once"}, nil},
		{false, []string{"for user admin: written to /d/pw (mode 0600)", "not a terminal", "cat /d/pw", "delete that file"}, []string{pw}},
	}
	for _, c := range cases {
		got := generatedNotice("admin", pw, "/d/auth.json", "/d/pw", c.onTerminal)
		for _, s := range c.want {
			if !strings.Contains(got, s) {
				t.Errorf("generatedNotice(onTerminal %v) = %q; want it to contain %q", c.onTerminal, got, s)
			}
		}
		for _, s := range c.refuse {
			if strings.Contains(got, s) {
				t.Errorf("generatedNotice(onTerminal %v) = %q; want it without %q", c.onTerminal, got, s)
			}
		}
	}
}

func TestCookiePolicy(t *testing.T) {
	for in, want := range map[config.SecureCookies]web.CookieSecurity{
		config.SecureCookiesAuto:   web.CookiesSecureOverTLS,
		config.SecureCookiesAlways: web.CookiesAlwaysSecure,
		config.SecureCookiesNever:  web.CookiesNeverSecure,
	} {
		if got := cookiePolicy(in); got != want {
			t.Errorf("cookiePolicy(%v) = %v, want %v", in, got, want)
		}
	}
}
