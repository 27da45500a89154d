package auth

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

const testPassword = "correct horse battery staple"

// fastBcrypt hashes password at bcrypt's lowest cost, so tests (under the
// race detector, which slows bcrypt some thirtyfold) stay quick.
func fastBcrypt(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// argon2idPHC hashes password with small argon2id parameters, as a PHC string.
func argon2idPHC(password string) string {
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	return "$argon2id$v=19$m=64,t=1,p=1$" + b64(salt) + "$" + b64(sum)
}

// newClock returns the settable time of sessions and lockouts.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func newAuth(t *testing.T, creds Credentials, c *testkit.Clock) *Authenticator {
	t.Helper()
	a, err := New(creds, Options{SessionLifetime: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatalf("New(%+v): %v", creds, err)
	}
	return a
}

var (
	home  = netip.MustParseAddr("127.0.0.1")
	other = netip.MustParseAddr("127.0.0.2")
)

func TestLogin(t *testing.T) {
	hashes := map[string]string{"bcrypt": fastBcrypt(t, testPassword), "argon2id": argon2idPHC(testPassword)}
	cases := []struct {
		name, user, password string
		ok                   bool
	}{
		{"right", "admin", testPassword, true},
		{"wrong password", "admin", "correct horse", false},
		{"wrong username", "root", testPassword, false},
		{"username in other case", "Admin", testPassword, false},
		{"empty", "", "", false},
		{"password with a suffix", "admin", testPassword + "x", false},
		{"username with a suffix", "admin ", testPassword, false},
		{"very long password", "admin", strings.Repeat("x", 10000), false},
	}
	for kind, hash := range hashes {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				a := newAuth(t, Credentials{Username: "admin", PasswordHash: hash}, newClock())
				s, err := a.Login(t.Context(), home, c.user, c.password)
				if c.ok {
					if err != nil || s.ID == "" || s.User != "admin" {
						t.Fatalf("Login(%q, %q) = %+v, %v; want a session of admin", c.user, c.password, s, err)
					}
					if got, ok := a.Session(s.ID); !ok || got.User != "admin" {
						t.Errorf("Session(id of the login) = %+v, %v; want admin's session", got, ok)
					}
					return
				}
				if !errors.Is(err, ErrInvalidCredentials) || err.Error() != "invalid username or password" {
					t.Errorf("Login(%q, %q) = %+v, %v; want exactly ErrInvalidCredentials", c.user, c.password, s, err)
				}
			})
		}
	}
}

// countingVerifier counts the password checks it is asked for.
type countingVerifier struct {
	calls atomic.Int32
	ok    bool
}

func (v *countingVerifier) Verify([]byte) bool { v.calls.Add(1); return v.ok }

// TestLoginChecksPasswordForUnknownUser: a wrong username costs a password
// check too, so that timing does not tell which usernames exist.
func TestLoginChecksPasswordForUnknownUser(t *testing.T) {
	for _, creds := range []Credentials{
		{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)},
		{Tokens: []Token{{Name: "ci", SHA256: HashToken("pyv_x")}}}, // no password login at all
	} {
		a := newAuth(t, creds, newClock())
		v := &countingVerifier{ok: true}
		a.password = v
		_, err := a.Login(t.Context(), home, "nobody", "whatever")
		if !errors.Is(err, ErrInvalidCredentials) || v.calls.Load() != 1 {
			t.Errorf("with %+v: Login(nobody) = %v after %d password checks; want ErrInvalidCredentials after 1",
				creds, err, v.calls.Load())
		}
	}
}

func TestNewRejectsBadCredentials(t *testing.T) {
	cases := []struct {
		name  string
		creds Credentials
	}{
		{"unknown hash format", Credentials{Username: "a", PasswordHash: "plain"}},
		{"username without hash", Credentials{Username: "a"}},
		{"hash without username", Credentials{PasswordHash: fastBcrypt(t, "x")}},
		{"token hash too short", Credentials{Tokens: []Token{{Name: "ci", SHA256: "abcd"}}}},
		{"token hash not hex", Credentials{Tokens: []Token{{Name: "ci", SHA256: strings.Repeat("z", 64)}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if a, err := New(c.creds, Options{}); err == nil {
				t.Errorf("New(%+v) = %v, nil; want an error", c.creds, a)
			}
		})
	}
}

func TestToken(t *testing.T) {
	ci, ciHash := NewToken()
	deploy, deployHash := NewToken()
	revoked, _ := NewToken()
	a := newAuth(t, Credentials{Tokens: []Token{{"ci", ciHash}, {"deploy", strings.ToUpper(deployHash)}}}, newClock())
	cases := []struct {
		name, token, want string
	}{
		{"first", ci, "ci"},
		{"second (hash in capitals)", deploy, "deploy"},
		{"revoked", revoked, ""},
		{"empty", "", ""},
		{"prefix of a token", ci[:len(ci)-1], ""},
		{"the stored hash itself", ciHash, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, ok := a.Token(c.token)
			if name != c.want || ok != (c.want != "") {
				t.Errorf("Token(%q) = %q, %v; want %q, %v", c.token, name, ok, c.want, c.want != "")
			}
		})
	}
}

func TestSessions(t *testing.T) {
	c := newClock()
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, c)
	s, err := a.Login(t.Context(), home, "admin", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(time.Hour); !s.Expires.Equal(want) || a.SessionLifetime() != time.Hour {
		t.Errorf("Login: expires %v (lifetime %v); want %v, an hour after the login", s.Expires, a.SessionLifetime(), want)
	}
	s2, err := a.Login(t.Context(), home, "admin", testPassword)
	if err != nil || s2.ID == s.ID || len(s.ID) < 40 {
		t.Fatalf("second Login = %+v, %v; want a session with another ID (first %q)", s2, err, s.ID)
	}
	if _, ok := a.Session("forged"); ok {
		t.Errorf("Session(forged) found a session")
	}
	c.Advance(time.Hour - time.Nanosecond)
	if _, ok := a.Session(s.ID); !ok {
		t.Errorf("Session just before expiry: not found, want found")
	}
	a.Logout(s2.ID)
	if _, ok := a.Session(s2.ID); ok {
		t.Errorf("Session after Logout: found, want gone")
	}
	c.Advance(time.Nanosecond)
	if _, ok := a.Session(s.ID); ok {
		t.Errorf("Session at expiry: found, want gone (absolute expiry)")
	}
	if n := a.sessions.count(); n != 0 {
		t.Errorf("after expiry and logout %d sessions are kept, want 0", n)
	}
}

func TestSessionsBounded(t *testing.T) {
	s := newSessions()
	now := time.Now()
	var first Session
	for i := range maxSessions + 10 {
		sess := s.create("admin", now.Add(time.Duration(i)), time.Hour)
		if i == 0 {
			first = sess
		}
	}
	if n := s.count(); n != maxSessions {
		t.Errorf("after %d logins %d sessions are kept, want %d", maxSessions+10, n, maxSessions)
	}
	if _, ok := s.lookup(first.ID, now); ok {
		t.Errorf("the first session (expiring first) survived the bound")
	}
}

func TestLoginRateLimited(t *testing.T) {
	c := newClock()
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, c)
	for i := range freeAttempts {
		if _, err := a.Login(t.Context(), home, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("bad login %d: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	// Locked: even the right password is refused, unchecked.
	v := &countingVerifier{ok: true}
	real := a.password
	a.password = v
	_, err := a.Login(t.Context(), home, "admin", testPassword)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != firstLockout || v.calls.Load() != 0 {
		t.Fatalf("login after %d failures = %v (%d password checks); want a RateLimitedError of %v and no check",
			freeAttempts, err, v.calls.Load(), firstLockout)
	}
	a.password = real
	if _, err := a.Login(t.Context(), other, "admin", testPassword); err != nil {
		t.Errorf("right login from another address: %v, want a session", err)
	}
	c.Advance(firstLockout)
	if _, err := a.Login(t.Context(), home, "admin", testPassword); err != nil {
		t.Fatalf("right login after the lockout: %v, want a session", err)
	}
	// The success cleared the count: five more free attempts.
	for i := range freeAttempts {
		if _, err := a.Login(t.Context(), home, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("bad login %d after a success: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
}

// TestLoginBurst: parallel bad logins from one address cannot all slip
// through before the first of them has failed.
func TestLoginBurst(t *testing.T) {
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, newClock())
	const n = 30
	var invalid, limited atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := a.Login(context.Background(), home, "admin", "guess")
			var rl *RateLimitedError
			switch {
			case errors.Is(err, ErrInvalidCredentials):
				invalid.Add(1)
			case errors.As(err, &rl):
				limited.Add(1)
			default:
				t.Errorf("Login in a burst: %v", err)
			}
		})
	}
	wg.Wait()
	if invalid.Load() != freeAttempts || limited.Load() != n-freeAttempts {
		t.Errorf("%d parallel bad logins: %d checked, %d rate-limited; want %d and %d",
			n, invalid.Load(), limited.Load(), freeAttempts, n-freeAttempts)
	}
}

func TestLoginWaitsForATurn(t *testing.T) {
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, newClock())
	for range maxConcurrentChecks {
		a.checks <- struct{}{} // every turn taken
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Login(ctx, home, "admin", testPassword); !errors.Is(err, context.Canceled) {
		t.Errorf("Login with every turn taken and a cancelled context = %v, want context.Canceled", err)
	}
}

// TestNewLocalToken: the token is written for the owner only, is accepted
// under its reserved name, and a new one replaces (and so revokes) the last.
func TestNewLocalToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process_manager.token")
	var tokens []string
	var entries []Token
	for range 2 {
		entry, err := NewLocalToken(path)
		if err != nil {
			t.Fatalf("NewLocalToken(%s): %v", path, err)
		}
		data, err := os.ReadFile(path)
		info, statErr := os.Stat(path)
		if err != nil || statErr != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s after NewLocalToken: %v, %v; want a file of mode 0600", path, err, statErr)
		}
		tokens = append(tokens, strings.TrimSpace(string(data)))
		entries = append(entries, entry)
	}
	a, err := New(Credentials{Tokens: entries[1:]}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := a.Token(tokens[1]); !ok || name != LocalTokenName {
		t.Errorf("Token(the file's token) = %q, %v; want %q, true", name, ok, LocalTokenName)
	}
	if tokens[0] == tokens[1] {
		t.Errorf("two NewLocalToken calls wrote the same token %q", tokens[0])
	}
}
