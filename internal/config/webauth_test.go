package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// Well-formed hashes: bcrypt of "correct horse" at cost 4, and the argon2id example of RFC 9106's
// reference implementation's format.
const (
	testBcrypt   = "$2a$04$s3EVOilD1u3Oqzn.4XAs/exAh7rB0BNcQV3tPdr1WGDEQYTzUneiu"
	testArgon2id = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
	testSHA      = "7fcc2be6c6c755c9433aa10df145f4cd324ab5266e0a98b648326ed46c811781"
)

func TestLoadAuth(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Auth
	}{
		{"absent", "web_ui: {port: 8000}\n", Auth{Mode: AuthDefault, SessionLifetime: 12 * time.Hour}},
		{"false", "web_ui:\n  auth: false\n", Auth{Mode: AuthOff, SessionLifetime: 12 * time.Hour}},
		{"off (YAML 1.1)", "web_ui:\n  auth: off\n", Auth{Mode: AuthOff, SessionLifetime: 12 * time.Hour}},
		{"true", "web_ui:\n  auth: true\n", Auth{Mode: AuthGenerated, SessionLifetime: 12 * time.Hour}},
		{"bcrypt", "web_ui:\n  auth: {username: admin, password_hash: '" + testBcrypt + "'}\n",
			Auth{Mode: AuthConfigured, Username: "admin", PasswordHash: testBcrypt, SessionLifetime: 12 * time.Hour}},
		{"argon2id and hours", "web_ui:\n  auth:\n    username: ops\n    password_hash: '" + testArgon2id + "'\n    session_hours: 0.5\n",
			Auth{Mode: AuthConfigured, Username: "ops", PasswordHash: testArgon2id, SessionLifetime: 30 * time.Minute}},
		{"tokens only, hex in capitals", "web_ui:\n  auth:\n    tokens:\n      - name: ci\n        sha256: " + strings.ToUpper(testSHA) + "\n",
			Auth{Mode: AuthConfigured, Tokens: []Token{{"ci", testSHA}}, SessionLifetime: 12 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.yaml)
			if !reflect.DeepEqual(c.WebUI.Auth, tt.want) {
				t.Errorf("load(%q): web_ui.auth = %+v, want %+v", tt.yaml, c.WebUI.Auth, tt.want)
			}
		})
	}
}

func TestLoadAuthErrors(t *testing.T) {
	other := strings.Replace(testSHA, "7f", "00", 1)
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"not a bool or mapping", "web_ui:\n  auth: [a]\n", []wantErr{{2, "web_ui.auth", "expected false, true or a mapping"}}},
		{"a word", "web_ui:\n  auth: maybe\n", []wantErr{{2, "web_ui.auth", `expected true or false, got "maybe"`}}},
		{"empty mapping", "web_ui:\n  auth: {}\n", []wantErr{{2, "web_ui.auth", "needs a username and password_hash, or tokens"}}},
		{"unknown key", "web_ui:\n  auth:\n    user: admin\n    tokens: [{name: a, sha256: " + testSHA + "}]\n",
			[]wantErr{{3, "web_ui.auth.user", `unknown key "user"`}}},
		{"username without hash", "web_ui:\n  auth:\n    username: admin\n", []wantErr{{3, "web_ui.auth.password_hash", "username is set but password_hash is not"}}},
		{"hash without username", "web_ui:\n  auth:\n    password_hash: '" + testBcrypt + "'\n", []wantErr{{3, "web_ui.auth.username", "password_hash is set but username is not"}}},
		{"plain password", "web_ui:\n  auth:\n    username: admin\n    password_hash: hunter2\n",
			[]wantErr{{4, "web_ui.auth.password_hash", `unknown hash format "hunter2"`}}},
		{"argon2i", "web_ui:\n  auth:\n    username: admin\n    password_hash: '$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'\n",
			[]wantErr{{4, "web_ui.auth.password_hash", "unknown hash format"}}},
		{"truncated bcrypt", "web_ui:\n  auth:\n    username: admin\n    password_hash: '" + testBcrypt[:50] + "'\n",
			[]wantErr{{4, "web_ui.auth.password_hash", "not a valid bcrypt hash: 50 characters long"}}},
		{"bcrypt over the cost cap", "web_ui:\n  auth:\n    username: admin\n    password_hash: '$2a$15$" + testBcrypt[7:] + "'\n",
			[]wantErr{{4, "web_ui.auth.password_hash", "bcrypt cost 15 is over the cap of 14"}}},
		{"argon2id over the memory cap", "web_ui:\n  auth:\n    username: admin\n    password_hash: '" +
			strings.Replace(testArgon2id, "m=65536", "m=1048576", 1) + "'\n",
			[]wantErr{{4, "web_ui.auth.password_hash", "argon2id m=1048576 (KiB) is over the cap of 262144 (256 MiB)"}}},
		{"empty username", "web_ui:\n  auth:\n    username: ''\n    password_hash: '" + testBcrypt + "'\n", []wantErr{{3, "web_ui.auth.username", "must not be empty"}}},
		{"session hours zero", "web_ui:\n  auth:\n    tokens: [{name: a, sha256: " + testSHA + "}]\n    session_hours: 0\n",
			[]wantErr{{4, "web_ui.auth.session_hours", "must be greater than 0"}}},
		{"tokens not a list", "web_ui:\n  auth:\n    tokens: abc\n", []wantErr{
			{3, "web_ui.auth.tokens", "expected a list"}, {3, "web_ui.auth", "needs a username"}}},
		{"token without hash", "web_ui:\n  auth:\n    tokens:\n      - name: ci\n", []wantErr{
			{4, "web_ui.auth.tokens[0]", `missing required field "sha256"`}, {3, "web_ui.auth", "needs a username"}}},
		{"token hash too short", "web_ui:\n  auth:\n    tokens:\n      - {name: ci, sha256: abc}\n", []wantErr{
			{4, "web_ui.auth.tokens[0].sha256", "64 hex digits, got 3 characters"}, {3, "web_ui.auth", "needs a username"}}},
		{"token name with space", "web_ui:\n  auth:\n    tokens:\n      - {name: my token, sha256: " + testSHA + "}\n", []wantErr{
			{4, "web_ui.auth.tokens[0].name", "not a token name"}, {3, "web_ui.auth", "needs a username"}}},
		{"duplicate token name", "web_ui:\n  auth:\n    tokens:\n      - {name: ci, sha256: " + testSHA + "}\n      - {name: ci, sha256: " + other + "}\n",
			[]wantErr{{5, "web_ui.auth.tokens[1].name", `duplicate token name "ci" (first on line 4)`}}},
		{"duplicate token", "web_ui:\n  auth:\n    tokens:\n      - {name: a, sha256: " + testSHA + "}\n      - {name: b, sha256: " + strings.ToUpper(testSHA) + "}\n",
			[]wantErr{{5, "web_ui.auth.tokens[1].sha256", "the same token as the entry on line 4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			if c != nil {
				t.Fatalf("load(%q) returned a config, want errors", tt.yaml)
			}
			checkProblems(t, "load("+tt.yaml+")", err, path, tt.want)
		})
	}
}

// TestPasswordHashProblem checks the wiring to passhash, whose tests cover the
// formats: a good hash has no problem, a bad one a message with the fix.
func TestPasswordHashProblem(t *testing.T) {
	tests := []struct {
		hash string
		want string // "" for no problem, else a part of the message
	}{
		{testBcrypt, ""},
		{testArgon2id, ""},
		{"$2a$03$" + testBcrypt[7:], "not a valid bcrypt hash: cost \"03\" is not 04-31; make one with `pyvisor hash-password`"},
		{"hunter2", "unknown hash format \"hunter2\""},
	}
	for _, tt := range tests {
		got := PasswordHashProblem(tt.hash)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("PasswordHashProblem(%q) = %q, want a message containing %q", tt.hash, got, tt.want)
		}
	}
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteCert(t, filepath.Join(dir, "tls/cert.pem"), filepath.Join(dir, "tls/key.pem"))
	testkit.WriteCert(t, filepath.Join(dir, "other/cert.pem"), filepath.Join(dir, "other/key.pem"))
	writeFile(t, dir, "empty.pem", "")
	cfg := writeFile(t, dir, "ok.yaml", "web_ui:\n  tls_cert: tls/cert.pem\n  tls_key: "+filepath.Join(dir, "tls/key.pem")+"\n")
	c, err := Load(cfg)
	if err != nil {
		t.Fatalf("Load(%s) with a good pair: %v", cfg, err)
	}
	if c.WebUI.TLSCert != filepath.Join(dir, "tls/cert.pem") || c.WebUI.TLSKey != filepath.Join(dir, "tls/key.pem") {
		t.Errorf("Load(%s): tls_cert, tls_key = %q, %q; want both absolute in %s", cfg, c.WebUI.TLSCert, c.WebUI.TLSKey, dir)
	}

	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"cert only", "web_ui:\n  tls_cert: tls/cert.pem\n", []wantErr{{2, "web_ui.tls_cert", "tls_cert is set but tls_key is not"}}},
		{"key only", "web_ui:\n  port: 1\n  tls_key: tls/key.pem\n", []wantErr{{3, "web_ui.tls_key", "tls_key is set but tls_cert is not"}}},
		{"missing cert", "web_ui:\n  tls_cert: nope.pem\n  tls_key: tls/key.pem\n",
			[]wantErr{{2, "web_ui.tls_cert", "read " + filepath.Join(dir, "nope.pem") + ": stat: no such file"}}},
		{"directory as key", "web_ui:\n  tls_cert: tls/cert.pem\n  tls_key: tls\n", []wantErr{{3, "web_ui.tls_key", "not a regular file"}}},
		{"keys swapped", "web_ui:\n  tls_cert: tls/key.pem\n  tls_key: tls/cert.pem\n", []wantErr{{3, "web_ui.tls_key", "not a usable certificate and key pair"}}},
		{"another cert's key", "web_ui:\n  tls_cert: tls/cert.pem\n  tls_key: other/key.pem\n", []wantErr{{3, "web_ui.tls_key", "private key does not match public key"}}},
		{"empty cert", "web_ui:\n  tls_cert: empty.pem\n  tls_key: tls/key.pem\n", []wantErr{{3, "web_ui.tls_key", "not a usable certificate and key pair"}}},
		{"empty path", "web_ui:\n  tls_cert: ''\n  tls_key: tls/key.pem\n", []wantErr{{2, "web_ui.tls_cert", "must not be empty"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "bad"+string(rune('a'+i))+".yaml", tt.yaml)
			c, err := Load(path)
			if c != nil {
				t.Fatalf("Load(%q) returned a config, want errors", tt.yaml)
			}
			checkProblems(t, "Load("+tt.yaml+")", err, path, tt.want)
		})
	}
}

func TestLoadSecureCookies(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want SecureCookies
	}{
		{"web_ui: {port: 8000}\n", SecureCookiesAuto},
		{"web_ui:\n  secure_cookies: auto\n", SecureCookiesAuto},
		{"web_ui:\n  secure_cookies: true\n", SecureCookiesAlways},
		{"web_ui:\n  secure_cookies: on\n", SecureCookiesAlways},
		{"web_ui:\n  secure_cookies: false\n", SecureCookiesNever},
	} {
		if got := mustLoad(t, tt.yaml).WebUI.SecureCookies; got != tt.want {
			t.Errorf("load(%q): SecureCookies = %v, want %v", tt.yaml, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name, yaml string
		want       []wantErr
	}{
		{"a word", "web_ui:\n  port: 8000\n  secure_cookies: sometimes\n",
			[]wantErr{{3, "web_ui.secure_cookies", `expected true, false or auto, got "sometimes"`}}},
		{"quoted auto is fine, a list is not", "web_ui:\n  secure_cookies: [auto]\n",
			[]wantErr{{2, "web_ui.secure_cookies", "expected true, false or auto"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			if c != nil {
				t.Fatalf("load(%q) returned a config, want errors", tt.yaml)
			}
			checkProblems(t, "load("+tt.yaml+")", err, path, tt.want)
		})
	}
}
