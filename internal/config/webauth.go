package config

import (
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/pyvisor/pyvisor/internal/passhash"
)

// AuthMode says how clients of the dashboard and the API prove who they are.
type AuthMode int

const (
	// AuthDefault is an absent web_ui.auth: open on a loopback host, else a generated admin password
	// (stored hashed in AuthFileName beside the config).
	AuthDefault AuthMode = iota
	// AuthOff is "auth: false": open wherever it listens, for a server behind an authenticating proxy.
	AuthOff
	// AuthGenerated is "auth: true": the generated admin password, even on a loopback host.
	AuthGenerated
	// AuthConfigured is an auth mapping: the username, password hash and tokens it gives.
	AuthConfigured
)

// AuthFileName is the file, beside the config, that holds the hash of the generated admin password.
const AuthFileName = "process_manager.auth.json"

// GeneratedPasswordFileName is the file, beside the config, to which a generated admin password is written
// (mode 0600) when the manager's stdout is not a terminal, so that it does not land in a log; the operator
// reads it and deletes it.
const GeneratedPasswordFileName = "process_manager.admin-password"

// LocalTokenFileName is the file, beside the config, in which a manager that requires a login leaves an API
// token for the command-line client on the same machine (mode 0600, a new one at each start).
const LocalTokenFileName = "process_manager.token"

// DefaultSessionLifetime is how long a browser stays logged in when session_hours is not set.
const DefaultSessionLifetime = 12 * time.Hour

// SecureCookies is web_ui.secure_cookies: when the session cookie is marked Secure, which makes
// browsers send it over HTTPS only, and named with the __Host- prefix, which makes them refuse one set
// for a wider domain or path or over plain HTTP.
type SecureCookies int

const (
	// SecureCookiesAuto ("auto", the default): Secure when pyvisor serves HTTPS itself (web_ui.tls_cert).
	SecureCookiesAuto SecureCookies = iota
	// SecureCookiesAlways (true): always Secure, for a reverse proxy that terminates HTTPS in front of a
	// plain-HTTP pyvisor.
	SecureCookiesAlways
	// SecureCookiesNever (false): never Secure, even over HTTPS.
	SecureCookiesNever
)

// secureCookies reads web_ui.secure_cookies: true, false or auto.
func (d *decoder) secureCookies(n *yaml.Node, field string) SecureCookies {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Value == "auto" {
		return SecureCookiesAuto
	}
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!bool" || n.Style == 0) {
		switch n.Value {
		case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
			return SecureCookiesAlways
		case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
			return SecureCookiesNever
		}
	}
	d.errorf(n, field, "expected true, false or auto, got %s", describe(n))
	return SecureCookiesAuto
}

// Limits of the auth settings.
const (
	maxUsernameLen = 64
	maxTokenName   = 64
	maxSessionDays = 366
)

// Auth is web_ui.auth.
type Auth struct {
	// Mode says which of the other fields apply.
	Mode AuthMode
	// Username and PasswordHash (bcrypt or argon2id) let a browser log in; both are "" or both are set.
	// Only AuthConfigured sets them.
	Username, PasswordHash string
	// Tokens are the API tokens accepted as "Authorization: Bearer"; nil means none.
	Tokens []Token
	// SessionLifetime is how long a login lasts (absolute, not renewed by use).
	SessionLifetime time.Duration
}

// Token is one API token: its name (shown in the audit log as "token:NAME") and the SHA-256 of the
// token, as 64 lowercase hex digits. The token itself is never stored.
type Token struct {
	Name   string
	SHA256 string
}

// tls reads web_ui.tls_cert and web_ui.tls_key (given as nodes, nil when absent) into w as absolute
// paths, checking that both or neither are given and that they are a readable, matching pair.
func (d *decoder) tls(c *Config, w *WebUI, cert, key *yaml.Node) {
	if cert == nil && key == nil {
		return
	}
	if cert == nil || key == nil {
		given, missing, at := "tls_cert", "tls_key", cert
		if cert == nil {
			given, missing, at = "tls_key", "tls_cert", key
		}
		d.errorf(at, join("web_ui", given), "%s is set but %s is not; give both (or neither, for plain HTTP)", given, missing)
		return
	}
	var paths [2]string
	var data [2][]byte
	for i, n := range []*yaml.Node{cert, key} {
		field := join("web_ui", []string{"tls_cert", "tls_key"}[i])
		s, ok := d.str(n, field)
		if !ok {
			return
		}
		if s == "" {
			d.errorf(n, field, "must not be empty")
			return
		}
		if d.path(c, n, field) == "" {
			return // reported
		}
		paths[i] = c.resolve(c.Dir, s)
		b, err := readSmallFile(paths[i])
		if err != nil {
			d.errorf(n, field, "read %s: %s", paths[i], pathErrorMsg(err))
			return
		}
		data[i] = b
	}
	if _, err := tls.X509KeyPair(data[0], data[1]); err != nil {
		d.errorf(key, "web_ui.tls_key", "%s and %s are not a usable certificate and key pair: %v", paths[0], paths[1], err)
		return
	}
	w.TLSCert, w.TLSKey = paths[0], paths[1]
}

// auth reads web_ui.auth: false, true, or a mapping of credentials.
func (d *decoder) auth(a *Auth, n *yaml.Node) {
	const field = "web_ui.auth"
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if on, ok := d.boolean(n, field); ok && on {
			a.Mode = AuthGenerated
		} else if ok {
			a.Mode = AuthOff
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected false, true or a mapping (username, password_hash, tokens, session_hours), got %s", describe(n))
		return
	}
	a.Mode = AuthConfigured
	var userNode, hashNode *yaml.Node
	for _, p := range d.fields(n, field, authKeys()) {
		f := join(field, p.key)
		switch p.key {
		case "username":
			if s, ok := d.str(p.value, f); ok {
				userNode = p.value
				if msg := usernameProblem(s); msg != "" {
					d.errorf(p.value, f, "%s", msg)
				}
				a.Username = s
			}
		case "password_hash":
			if s, ok := d.str(p.value, f); ok {
				hashNode = p.value
				if msg := PasswordHashProblem(s); msg != "" {
					d.errorf(p.value, f, "%s", msg)
				}
				a.PasswordHash = s
			}
		case "tokens":
			a.Tokens = d.tokens(p.value, f)
		case "session_hours":
			if v, ok := d.number(p.value, f); ok {
				if v <= 0 || v > 24*maxSessionDays {
					d.errorf(p.value, f, "must be greater than 0 and at most %d (a year), got %s", 24*maxSessionDays, p.value.Value)
				} else {
					a.SessionLifetime = time.Duration(v * float64(time.Hour))
				}
			}
		}
	}
	switch {
	case userNode != nil && hashNode == nil:
		d.errorf(userNode, join(field, "password_hash"), "username is set but password_hash is not; make one with `pyvisor hash-password`")
	case hashNode != nil && userNode == nil:
		d.errorf(hashNode, join(field, "username"), "password_hash is set but username is not")
	case userNode == nil && hashNode == nil && len(a.Tokens) == 0:
		d.errorf(n, field, "needs a username and password_hash, or tokens; for a generated admin password write `auth: true`")
	}
}

// tokens reads the list of {name, sha256} entries.
func (d *decoder) tokens(n *yaml.Node, field string) []Token {
	var out []Token
	names := map[string]int{}
	hashes := map[string]int{}
	for i, item := range d.items(n, field) {
		f := index(field, i)
		var t Token
		var nameNode, hashNode *yaml.Node
		for _, p := range d.fields(item, f, tokenKeys()) {
			switch p.key {
			case "name":
				if s, ok := d.str(p.value, join(f, "name")); ok {
					t.Name, nameNode = s, p.value
				}
			case "sha256":
				if s, ok := d.str(p.value, join(f, "sha256")); ok {
					t.SHA256, hashNode = strings.ToLower(s), p.value
				}
			}
		}
		if deref(item).Kind != yaml.MappingNode {
			continue // reported by fields
		}
		ok := true
		switch {
		case nameNode == nil:
			d.errorf(item, f, `missing required field "name"`)
			ok = false
		case !ValidTokenName(t.Name):
			d.errorf(nameNode, join(f, "name"), "%q is not a token name: use 1-%d letters, digits, '.', '_' or '-'", t.Name, maxTokenName)
			ok = false
		case names[t.Name] != 0:
			d.errorf(nameNode, join(f, "name"), "duplicate token name %q (first on line %d)", t.Name, names[t.Name])
			ok = false
		default:
			names[t.Name] = nameNode.Line
		}
		switch {
		case hashNode == nil:
			d.errorf(item, f, `missing required field "sha256" (pyvisor new-token prints it)`)
			ok = false
		case !isSHA256Hex(t.SHA256):
			d.errorf(hashNode, join(f, "sha256"), "expected the SHA-256 of the token as 64 hex digits, got %d characters; `pyvisor new-token NAME` prints a token and its entry", len(t.SHA256))
			ok = false
		case hashes[t.SHA256] != 0:
			d.errorf(hashNode, join(f, "sha256"), "the same token as the entry on line %d", hashes[t.SHA256])
			ok = false
		default:
			hashes[t.SHA256] = hashNode.Line
		}
		if ok {
			out = append(out, t)
		}
	}
	return out
}

func usernameProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxUsernameLen:
		return fmt.Sprintf("is %d bytes long; at most %d", len(s), maxUsernameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// ValidTokenName reports whether s may name an API token: 1-64 letters, digits, '.', '_' or '-', so that
// it shows plainly in the audit log as "token:NAME".
func ValidTokenName(s string) bool {
	if s == "" || len(s) > maxTokenName {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// PasswordHashProblem says what is wrong with a password hash, or returns "" for a well-formed bcrypt
// ($2a$, $2b$, $2y$) or argon2id (PHC string) hash: one that internal/auth can check logins against, as both
// use internal/passhash.
func PasswordHashProblem(s string) string {
	if _, err := passhash.Parse(s); err != nil {
		return err.Error() + "; make one with `pyvisor hash-password`"
	}
	return ""
}
