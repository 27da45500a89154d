// Package auth owns who may use pyvisor's dashboard and API: checking a
// username and password (bcrypt or argon2id hashes) and API tokens (stored as
// SHA-256), the browser sessions a login creates, the limits on failed logins
// (per address, per IPv6 network and per server), and
// process_manager.auth.json, which holds the hash of a generated admin
// password. Every comparison of a secret is constant-time, and
// a failed login says the same whatever was wrong, so neither the answer nor
// its timing tells which usernames exist. It knows nothing of HTTP.
package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pyvisor/pyvisor/internal/passhash"
)

// DefaultSessionLifetime is how long a login lasts when Options.SessionLifetime is 0.
const DefaultSessionLifetime = 12 * time.Hour

// maxConcurrentChecks bounds the password checks running at once: each costs
// a few hundred milliseconds of CPU by design, and a flood of logins from many
// addresses must not take the CPU from the programs pyvisor runs.
const maxConcurrentChecks = 2

// maxCheckWait bounds the wait of a login for its turn to check a password:
// a queue longer than that is a flood, and the login is refused (LimitBusy)
// rather than held open.
const maxCheckWait = 5 * time.Second

// maxPasswordBytes bounds a password given to Login; bcrypt uses only the
// first 72 bytes anyway, and hashing megabytes with argon2id would be a gift.
const maxPasswordBytes = 1024

// ErrInvalidCredentials is the one answer to a wrong username, a wrong
// password, or both.
var ErrInvalidCredentials = errors.New("invalid username or password")

// RateLimitedError refuses a login, unchecked, for the reason Limit names.
type RateLimitedError struct {
	// RetryAfter is how long the client should wait before its next attempt.
	RetryAfter time.Duration
	// Limit says which limit refused it.
	Limit Limit
}

// Limit names a limit on logins.
type Limit int

const (
	// LimitAddress: the client's address (an IPv6 /64) has too many recent failures.
	LimitAddress Limit = iota
	// LimitNetwork: the client's IPv6 /48 has too many recent failures.
	LimitNetwork
	// LimitServer: the server has had too many failed logins in the last minute, from all addresses.
	LimitServer
	// LimitBusy: no password check could start within the wait allowed (see maxConcurrentChecks).
	LimitBusy
)

func (e *RateLimitedError) Error() string {
	why := "too many failed logins from this address"
	switch e.Limit {
	case LimitNetwork:
		why = "too many failed logins from this address's network"
	case LimitServer:
		why = "too many failed logins on this server"
	case LimitBusy:
		why = "too many logins being checked at once"
	}
	return fmt.Sprintf("%s; try again in %s", why, e.RetryAfter.Round(time.Second))
}

// Credentials are what clients may authenticate with.
type Credentials struct {
	// Username and PasswordHash let a browser log in; PasswordHash is a bcrypt
	// or argon2id (PHC string) hash. Both "" means no password login.
	Username, PasswordHash string
	// Tokens are the API tokens accepted; nil means none.
	Tokens []Token
}

// Token is one API token, known by its name and the SHA-256 of its text.
type Token struct {
	// Name identifies the token in the audit log ("token:NAME").
	Name string
	// SHA256 is the hex SHA-256 of the token (HashToken).
	SHA256 string
}

// Options tune an Authenticator. The zero value is ready to use.
type Options struct {
	// SessionLifetime is how long a login lasts, from the login (it is not
	// renewed by use); 0 means DefaultSessionLifetime.
	SessionLifetime time.Duration
	// Now is the clock; nil means time.Now. Tests set it to expire sessions and
	// lockouts without waiting.
	Now func() time.Time
	// FailedLoginsPerMinute is the most failed logins the server accepts a
	// minute from all addresses together (in a burst, or spread evenly); 0
	// means DefaultFailedLoginsPerMinute.
	FailedLoginsPerMinute int
}

// Session is a browser's login.
type Session struct {
	// ID is the secret the browser sends back in its cookie.
	ID string
	// User is the username that logged in.
	User string
	// Expires is when the session ends.
	Expires time.Time
}

// Authenticator checks credentials and keeps sessions and the failed-login
// limit. Its methods are safe for concurrent use. Sessions live in memory
// only: a restart of pyvisor logs every browser out.
type Authenticator struct {
	user     [sha256.Size]byte // SHA-256 of the username, for a fixed-length comparison
	hasUser  bool
	password passhash.Hash
	tokens   []tokenEntry
	lifetime time.Duration
	now      func() time.Time
	checks   chan struct{} // a semaphore of maxConcurrentChecks
	sessions *sessions
	limiter  *limiter
}

type tokenEntry struct {
	name string
	sum  [sha256.Size]byte
}

// New returns an Authenticator for creds. It fails on a password hash of an
// unknown format and on a token hash that is not 64 hex digits.
func New(creds Credentials, opts Options) (*Authenticator, error) {
	a := &Authenticator{
		lifetime: opts.SessionLifetime,
		now:      opts.Now,
		checks:   make(chan struct{}, maxConcurrentChecks),
		sessions: newSessions(),
		limiter:  newLimiter(cmp.Or(opts.FailedLoginsPerMinute, DefaultFailedLoginsPerMinute)),
	}
	if a.lifetime <= 0 {
		a.lifetime = DefaultSessionLifetime
	}
	if a.now == nil {
		a.now = time.Now
	}
	if (creds.Username == "") != (creds.PasswordHash == "") {
		return nil, errors.New("new authenticator: a username needs a password hash and a password hash a username")
	}
	if creds.PasswordHash != "" {
		v, err := passhash.Parse(creds.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("new authenticator: password hash: %w", err)
		}
		a.password, a.hasUser = v, true
		a.user = sha256.Sum256([]byte(creds.Username))
	} else {
		// Nobody can log in with a password, but a login still costs what it
		// would, so it looks the same from outside.
		v, err := passhash.Parse(dummyHash)
		if err != nil {
			return nil, fmt.Errorf("new authenticator: dummy hash: %w", err)
		}
		a.password = v
	}
	for i, t := range creds.Tokens {
		b, err := hex.DecodeString(t.SHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("new authenticator: token %d (%q): sha256 is not 64 hex digits", i, t.Name)
		}
		e := tokenEntry{name: t.Name}
		copy(e.sum[:], b)
		a.tokens = append(a.tokens, e)
	}
	return a, nil
}

// dummyHash is a bcrypt hash (cost 12) of a random password nobody kept: what
// a login is checked against when no password is configured.
const dummyHash = "$2a$12$WegklUcJncduQInV7TZXsu4U8cCPAlCmHsMwt4uYZTPvxseLTyR3u"

// SessionLifetime is how long a session created now lasts.
func (a *Authenticator) SessionLifetime() time.Duration { return a.lifetime }

// HasPassword reports whether a username and password are configured, that
// is, whether a browser can log in at all.
func (a *Authenticator) HasPassword() bool { return a.hasUser }

// Login checks a username and password given by a client at address client
// and on success starts a session. It returns ErrInvalidCredentials for any
// mismatch and a *RateLimitedError, without checking anything, while client
// (or its network, or the whole server) is locked out after too many failures,
// or when no password check could start within maxCheckWait. The password is
// checked even when the username is wrong, so a wrong username takes as long
// as a wrong password. ctx, too, bounds the wait for a turn to check.
func (a *Authenticator) Login(ctx context.Context, client netip.Addr, username, password string) (Session, error) {
	if refused := a.limiter.attempt(client, a.now()); refused != nil {
		return Session{}, refused
	}
	ok, err := a.checkPassword(ctx, username, password)
	if err != nil {
		a.limiter.undo(client) // nothing was checked
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrInvalidCredentials
	}
	a.limiter.succeeded(client)
	return a.sessions.create(username, a.now(), a.lifetime), nil
}

// checkPassword reports whether username and password match, in time that
// depends on neither.
func (a *Authenticator) checkPassword(ctx context.Context, username, password string) (bool, error) {
	timer := time.NewTimer(maxCheckWait)
	defer timer.Stop()
	select {
	case a.checks <- struct{}{}:
	case <-timer.C:
		return false, &RateLimitedError{RetryAfter: maxCheckWait, Limit: LimitBusy}
	case <-ctx.Done():
		return false, fmt.Errorf("wait to check a password: %w", context.Cause(ctx))
	}
	defer func() { <-a.checks }()
	if len(password) > maxPasswordBytes {
		password = password[:maxPasswordBytes] // still checked, and still wrong
	}
	user := sha256.Sum256([]byte(username))
	userOK := subtle.ConstantTimeCompare(user[:], a.user[:]) & boolInt(a.hasUser)
	passOK := boolInt(a.password.Verify([]byte(password)))
	return userOK&passOK == 1, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Session returns the session whose ID is id, if it exists and has not expired.
func (a *Authenticator) Session(id string) (Session, bool) {
	return a.sessions.lookup(id, a.now())
}

// Logout ends the session whose ID is id; an unknown id is ignored.
func (a *Authenticator) Logout(id string) { a.sessions.remove(id) }

// Token returns the name of the API token token, if it is one of the
// configured tokens. Every configured token is compared, in constant time,
// whichever matches.
func (a *Authenticator) Token(token string) (name string, ok bool) {
	sum := sha256.Sum256([]byte(token))
	match := -1
	for i := range a.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return "", false
	}
	return a.tokens[match].name, true
}
