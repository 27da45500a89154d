package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/web"
)

// access is how the manager lets clients in.
type access int

const (
	// accessOpen: no credentials; the server listens on loopback only.
	accessOpen access = iota
	// accessOff: no credentials, wherever it listens ("auth: false").
	accessOff
	// accessGenerated: the generated admin password of config.AuthFileName.
	accessGenerated
	// accessConfigured: the username, password hash and tokens of web_ui.auth.
	accessConfigured
)

// decideAccess picks the access for the auth setting mode and the listen
// host, when shared says whether pyvisor runs as root or runs programs as
// other users (see sharedManager). Without a setting a loopback host is open
// (the Host and Origin checks keep other sites' pages out) unless shared, and
// any other host, the wildcard ones included, gets a generated password:
// pyvisor never serves an open door to the network by default, nor to the
// local users that a door on loopback would let act as root or as another
// user. It is pure.
func decideAccess(mode config.AuthMode, host string, shared bool) access {
	switch mode {
	case config.AuthOff:
		return accessOff
	case config.AuthGenerated:
		return accessGenerated
	case config.AuthConfigured:
		return accessConfigured
	}
	if isLoopbackHost(host) && !shared {
		return accessOpen
	}
	return accessGenerated
}

// sharedManager reports whether a manager running with effective uid euid
// under cfg acts as someone a local user who reaches its port is not: it
// runs as root, or runs a program or the install of an upload as another
// user than itself. Users a reload adds later do not count: only root may
// switch to them, and root counts already. It is pure.
func sharedManager(euid int, cfg *config.Config) bool {
	other := func(u *config.User) bool { return u != nil && int64(u.UID) != int64(euid) }
	if euid == 0 || other(cfg.User) {
		return true
	}
	for i := range cfg.Programs {
		if other(cfg.Programs[i].User) {
			return true
		}
	}
	return false
}

// accessFor is decideAccess for cfg and the manager's own user.
func accessFor(cfg *config.Config) access {
	return decideAccess(cfg.WebUI.Auth.Mode, cfg.WebUI.Host, sharedManager(os.Geteuid(), cfg))
}

// isLoopbackHost reports whether the listen host host is "localhost" or a
// loopback address (127.0.0.0/8, ::1). "", "0.0.0.0" and "::" listen on every
// interface and are not.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// accessText says in words who may use the web UI of cfg.
func accessText(cfg *config.Config) string {
	a := cfg.WebUI.Auth
	switch accessFor(cfg) {
	case accessOpen:
		return "open (loopback only; no login)"
	case accessOff:
		return "open to anyone who reaches it (web_ui.auth: false)"
	case accessGenerated:
		return "login with the generated admin password (" + filepath.Join(cfg.Dir, config.AuthFileName) + ")"
	}
	return fmt.Sprintf("login (web_ui.auth: user %q, %d API token(s))", a.Username, len(a.Tokens))
}

// setupAuth returns the authenticator the configuration asks for (nil for an
// open server), telling the operator what they need to know: a generated
// password once, a loud warning at every start without authentication on a
// network address.
func setupAuth(cfg *config.Config, url string, stdout, stderr io.Writer) (*auth.Authenticator, error) {
	a := cfg.WebUI.Auth
	opts := auth.Options{SessionLifetime: a.SessionLifetime}
	var creds auth.Credentials
	switch accessFor(cfg) {
	case accessOpen:
		return nil, nil
	case accessOff:
		fmt.Fprintf(stderr, "WARNING: web_ui.auth is false: anyone who can reach %s can start, stop and upload programs.\n"+
			"WARNING: use this only behind a reverse proxy that authenticates every request.\n", url)
		return nil, nil
	case accessGenerated:
		if a.Mode == config.AuthDefault && isLoopbackHost(cfg.WebUI.Host) {
			fmt.Fprintf(stdout, "Login required on loopback too: pyvisor runs as root, or runs programs as other users, "+
				"whom a local user must not act as; the client commands on this machine use %s\n", config.LocalTokenFileName)
		}
		path := filepath.Join(cfg.Dir, config.AuthFileName)
		s, password, err := auth.LoadOrGenerate(path)
		if err != nil {
			return nil, err
		}
		if err := announceGenerated(s.Username, password, path, filepath.Join(cfg.Dir, config.GeneratedPasswordFileName), stdout); err != nil {
			return nil, err
		}
		creds = auth.Credentials{Username: s.Username, PasswordHash: s.PasswordHash}
	case accessConfigured:
		creds = auth.Credentials{Username: a.Username, PasswordHash: a.PasswordHash}
		for _, t := range a.Tokens {
			creds.Tokens = append(creds.Tokens, auth.Token{Name: t.Name, SHA256: t.SHA256})
		}
		who := "no password login"
		if a.Username != "" {
			who = "user " + a.Username
		}
		fmt.Fprintf(stdout, "Login required (web_ui.auth): %s, %d API token(s)\n", who, len(a.Tokens))
	}
	// The client commands on this machine need no token of their own: they
	// read this one, if they run as a user who may.
	tokenPath := filepath.Join(cfg.Dir, config.LocalTokenFileName)
	if local, err := auth.NewLocalToken(tokenPath); err != nil {
		fmt.Fprintf(stderr, "pyvisor: %v; the client commands will need PYVISOR_TOKEN\n", err)
	} else {
		creds.Tokens = append(creds.Tokens, local)
	}
	authn, err := auth.New(creds, opts)
	if err != nil {
		return nil, fmt.Errorf("set up authentication: %w", err)
	}
	return authn, nil
}

// minPasswordChars is the shortest password hash-password accepts. A login
// is limited in how often it may be tried, but a stolen hash is not: twelve
// characters put even a guessable-looking passphrase out of reach of an
// offline search of bcrypt at cost 12.
const minPasswordChars = 12

// passwordProblem says what is wrong with a password chosen for
// hash-password, or returns "". The length is counted in characters, not
// bytes, so that a password in another script is measured as it is typed.
func passwordProblem(password string) string {
	if n := utf8.RuneCountInString(password); n < minPasswordChars {
		return fmt.Sprintf("the password is %d characters long; use at least %d characters", n, minPasswordChars)
	}
	return ""
}

// announceGenerated tells the operator the admin password (for user) that
// LoadOrGenerate just generated, or, when password is "" and the hash in
// authPath is an earlier one, that a login is required. A new password is
// shown only on a terminal: under systemd stdout goes to the journal, which
// keeps it for anyone who may read the logs. Elsewhere it is written to
// passwordPath (mode 0600) and only that path is printed. If it cannot be
// written, authPath is removed, so that the next start generates another
// password instead of keeping one nobody knows.
func announceGenerated(user, password, authPath, passwordPath string, stdout io.Writer) error {
	if password == "" {
		fmt.Fprintf(stdout, "Login required: user %s, password hash in %s (delete that file and restart for a new password)\n", user, authPath)
		if _, err := os.Stat(passwordPath); err == nil {
			fmt.Fprintf(stdout, "The generated password is still in %s: delete that file once you have read it.\n", passwordPath)
		}
		return nil
	}
	onTerminal := isTerminal(stdout)
	var err error
	if onTerminal {
		// A file left by an earlier generation holds a password that no longer works.
		err = os.Remove(passwordPath)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		err = writeSecret(passwordPath, password+"\n")
	}
	if err != nil {
		os.Remove(authPath)
		return fmt.Errorf("generated admin password: %w", err)
	}
	fmt.Fprint(stdout, generatedNotice(user, password, authPath, passwordPath, onTerminal))
	return nil
}

// writeSecret writes text to a new file at path that only its owner may
// read, replacing what was there. The file is created afresh (O_EXCL), so
// that neither a symbolic link nor a file of looser mode planted at path
// receives the secret.
func writeSecret(path, text string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// generatedNotice is what the manager prints about a new generated admin
// password: the password itself only onTerminal, else where it was written
// and how to read it. It is pure.
func generatedNotice(user, password, authPath, passwordPath string, onTerminal bool) string {
	const own = "To choose your own, see `pyvisor hash-password` and web_ui.auth in docs/security.md.\n"
	if onTerminal {
		return fmt.Sprintf("Generated admin password: %s (user %s); stored hashed in %s\n"+
			"It is shown only this once. "+own, password, user, authPath)
	}
	return fmt.Sprintf("Generated admin password for user %s: written to %s (mode 0600), not shown here: "+
		"stdout is not a terminal, and a log (such as the system journal) would keep it.\n"+
		"Read it with `cat %s` as the user pyvisor runs as (or root), then delete that file; "+
		"the login keeps working (its hash is in %s). "+own, user, passwordPath, passwordPath, authPath)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// cookiePolicy is the web package's reading of web_ui.secure_cookies. It is pure.
func cookiePolicy(s config.SecureCookies) web.CookieSecurity {
	switch s {
	case config.SecureCookiesAlways:
		return web.CookiesAlwaysSecure
	case config.SecureCookiesNever:
		return web.CookiesNeverSecure
	}
	return web.CookiesSecureOverTLS
}

// hashPassword is `pyvisor hash-password`: it reads a password (without echo,
// twice, from a terminal; else one line from stdin, so scripts can pipe it)
// and prints its bcrypt hash for web_ui.auth.password_hash.
func hashPassword(stdin io.Reader, stdout, stderr io.Writer) int {
	password, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor hash-password: %v\n", err)
		return 2
	}
	if msg := passwordProblem(password); msg != "" {
		fmt.Fprintf(stderr, "pyvisor hash-password: %s\n", msg)
		return 2
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor hash-password: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, hash)
	fmt.Fprintln(stderr, "Put it in the configuration as web_ui.auth.password_hash (quoted), with a web_ui.auth.username.")
	return 0
}

// readPassword reads the password to hash from stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) ([]byte, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return nil, fmt.Errorf("read the password: %w", err)
			}
			return b, nil
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		again, err := ask("Again: ")
		if err != nil {
			return "", err
		}
		if !bytes.Equal(first, again) {
			return "", errors.New("the two passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin (give it as one line)")
	}
	return line, nil
}

// newToken is `pyvisor new-token NAME`: it prints a fresh API token, once,
// and the configuration entry that accepts it (which holds only its hash).
func newToken(name string, stdout, stderr io.Writer) int {
	if !config.ValidTokenName(name) {
		fmt.Fprintf(stderr, "pyvisor new-token: %q is not a token name: use 1-64 letters, digits, '.', '_' or '-'\n", name)
		return 2
	}
	token, sum := auth.NewToken()
	fmt.Fprintf(stdout, "Token %s (shown only this once; clients send it as Authorization: Bearer <token>):\n%s\n\n", name, token)
	fmt.Fprintf(stdout, "Add this entry to web_ui.auth.tokens in the configuration:\n      - {name: %s, sha256: %q}\n", name, sum)
	return 0
}
