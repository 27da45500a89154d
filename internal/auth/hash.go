package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/pyvisor/pyvisor/internal/passhash"
)

// HashCost is the bcrypt cost of the hashes HashPassword makes: about a
// quarter of a second per check on a current CPU core, which makes guessing
// slow and one login no burden.
const HashCost = 12

// MaxPasswordLen is the longest password HashPassword accepts: bcrypt ignores
// every byte after the 72nd, so a longer one would be weaker than it looks.
const MaxPasswordLen = 72

// HashPassword returns the bcrypt hash (cost HashCost) of password, for
// web_ui.auth.password_hash.
func HashPassword(password string) (string, error) {
	return hashPassword(password, HashCost)
}

// hashPassword is HashPassword at bcrypt cost cost; tests use a low one, as
// the race detector slows bcrypt some thirtyfold.
func hashPassword(password string, cost int) (string, error) {
	switch {
	case password == "":
		return "", errors.New("hash password: the password is empty")
	case len(password) > MaxPasswordLen:
		return "", fmt.Errorf("hash password: the password is %d bytes long; bcrypt uses at most %d", len(password), MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// NewToken returns a fresh API token ("pyv_" and 130 random bits) and its
// SHA-256 as hex, which is what the configuration stores.
func NewToken() (token, sha256Hex string) {
	token = "pyv_" + rand.Text()
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of token. A token is random and long, so
// a fast hash suffices (a slow one would slow down every API request).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CheckPasswordHash returns an error saying what is wrong with hash, or nil
// when it is a bcrypt or argon2id hash Login can check passwords against.
func CheckPasswordHash(hash string) error {
	_, err := passhash.Parse(hash)
	return err
}
