package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pyvisor/pyvisor/internal/passhash"
)

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// TestCheckPasswordHash checks the wiring to passhash, whose tests cover the
// formats: what Login can check passes, anything else is refused.
func TestCheckPasswordHash(t *testing.T) {
	for _, c := range []struct {
		hash string
		ok   bool
	}{
		{fastBcrypt(t, "x"), true},
		{argon2idPHC("x"), true},
		{"hunter2", false},
		{"", false},
	} {
		if err := CheckPasswordHash(c.hash); (err == nil) != c.ok {
			t.Errorf("CheckPasswordHash(%q) = %v, want ok=%v", c.hash, err, c.ok)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("open sesame")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if !strings.HasPrefix(h, "$2a$12$") || CheckPasswordHash(h) != nil {
		t.Errorf("HashPassword = %q, want a bcrypt hash of cost 12", h)
	}
	// The rest at the lowest cost: a check at cost 12 takes seconds under -race.
	h, err = hashPassword("open sesame", bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hashPassword: %v", err)
	}
	v, _ := passhash.Parse(h)
	if !v.Verify([]byte("open sesame")) || v.Verify([]byte("open sesame!")) {
		t.Errorf("the hash of hashPassword does not verify exactly its password")
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxPasswordLen+1)} {
		if h, err := HashPassword(bad); err == nil {
			t.Errorf("HashPassword(%d bytes) = %q, nil; want an error", len(bad), h)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, ah := NewToken()
	b, bh := NewToken()
	if !strings.HasPrefix(a, "pyv_") || len(a) < 4+26 || a == b || ah == bh {
		t.Errorf("NewToken twice = %q, %q; want distinct pyv_ tokens of 130 bits", a, b)
	}
	if ah != HashToken(a) || len(ah) != 64 {
		t.Errorf("NewToken() hash %q, HashToken(token) %q; want the same 64 hex digits", ah, HashToken(a))
	}
}

func TestLoadOrGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process_manager.auth.json")
	s, password, err := loadOrGenerate(path, bcrypt.MinCost)
	if err != nil {
		t.Fatalf("LoadOrGenerate(no file): %v", err)
	}
	if s.Username != GeneratedUser || len(password) < 26 {
		t.Fatalf("LoadOrGenerate(no file) = %+v, password %q; want admin and a 26-character password", s, password)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("stored file: %v, %v; want mode 0600", info.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	var onDisk map[string]string
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk["username"] != "admin" || onDisk["password_hash"] != s.PasswordHash {
		t.Errorf("stored file = %s (%v); want username and password_hash", data, err)
	}
	if strings.Contains(string(data), password) {
		t.Errorf("stored file contains the password itself")
	}
	a, err := New(Credentials{Username: s.Username, PasswordHash: s.PasswordHash}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.password.Verify([]byte(password)) {
		t.Errorf("the generated password does not verify against the stored hash")
	}

	again, password2, err := LoadOrGenerate(path)
	if err != nil || again != s || password2 != "" {
		t.Errorf("LoadOrGenerate(existing) = %+v, %q, %v; want the stored credentials and no password", again, password2, err)
	}

	for name, content := range map[string]string{
		"not JSON":    "{",
		"no username": `{"password_hash": "` + s.PasswordHash + `"}`,
		"bad hash":    `{"username": "admin", "password_hash": "plain"}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "auth.json")
			os.WriteFile(p, []byte(content), 0o600)
			if _, pw, err := LoadOrGenerate(p); err == nil || pw != "" || !strings.Contains(err.Error(), "delete the file") {
				t.Errorf("LoadOrGenerate(%s) = password %q, %v; want an error saying to delete the file", content, pw, err)
			}
		})
	}
	if _, err := LoadStored(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadStored(missing) = %v, want fs.ErrNotExist", err)
	}
}
