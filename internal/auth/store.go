package auth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pyvisor/pyvisor/internal/atomicfile"
)

// GeneratedUser is the username of a generated admin password.
const GeneratedUser = "admin"

// Stored is the content of process_manager.auth.json: the credentials of a
// generated admin password. The password itself is never stored.
type Stored struct {
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
}

// LocalTokenName names the token of NewLocalToken in the audit log
// ("token:(local)"); no configured token can have it, as names of tokens in
// the configuration allow no parentheses.
const LocalTokenName = "(local)"

// NewLocalToken makes a new API token for the command-line client on this
// machine and writes it to path (mode 0600, atomically), replacing the token
// an earlier start left there, which so stops working. Whoever may read the
// file (the manager's user, and root) may use the API, much as with the
// permissions of supervisorctl's socket.
func NewLocalToken(path string) (Token, error) {
	token, hash := NewToken()
	if err := atomicfile.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return Token{}, fmt.Errorf("write the local client's token: %w", err)
	}
	return Token{Name: LocalTokenName, SHA256: hash}, nil
}

// LoadStored reads the credentials stored at path. A missing file is an error
// that errors.Is(err, fs.ErrNotExist) recognises.
func LoadStored(path string) (Stored, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Stored{}, fmt.Errorf("read stored credentials: %w", err)
	}
	var s Stored
	if err := json.Unmarshal(data, &s); err != nil {
		return Stored{}, fmt.Errorf("read stored credentials %s: %w (delete the file to generate a new password)", path, err)
	}
	if s.Username == "" {
		return Stored{}, fmt.Errorf("read stored credentials %s: no username (delete the file to generate a new password)", path)
	}
	if err := CheckPasswordHash(s.PasswordHash); err != nil {
		return Stored{}, fmt.Errorf("read stored credentials %s: %w (delete the file to generate a new password)", path, err)
	}
	return s, nil
}

// LoadOrGenerate returns the credentials stored at path or, when there is no
// such file, generates an admin password (130 random bits), stores its hash
// at path (mode 0600, written atomically) and returns the password too, for
// the caller to show once. password is "" when the file existed.
func LoadOrGenerate(path string) (s Stored, password string, err error) {
	return loadOrGenerate(path, HashCost)
}

// loadOrGenerate is LoadOrGenerate hashing at bcrypt cost cost.
func loadOrGenerate(path string, cost int) (s Stored, password string, err error) {
	s, err = LoadStored(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, "", err
	}
	password = rand.Text()
	hash, err := hashPassword(password, cost)
	if err != nil {
		return Stored{}, "", fmt.Errorf("generate admin password: %w", err)
	}
	s = Stored{Username: GeneratedUser, PasswordHash: hash}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return Stored{}, "", fmt.Errorf("generate admin password: encode: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return Stored{}, "", fmt.Errorf("generate admin password: %w", err)
	}
	return s, password, nil
}
