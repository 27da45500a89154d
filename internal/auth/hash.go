package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
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
	_, err := parseHash(hash)
	return err
}

// verifier checks passwords against one stored hash.
type verifier interface {
	verify(password []byte) bool
}

// parseHash parses a bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string) hash.
func parseHash(s string) (verifier, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	}
	return nil, errors.New("unknown hash format: expected bcrypt ($2b$...) or argon2id ($argon2id$v=19$...)")
}

// bcryptHash is a bcrypt hash; x/crypto/bcrypt compares in constant time.
type bcryptHash []byte

func parseBcrypt(s string) (bcryptHash, error) {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if len(s) != 60 || strings.Trim(s[4:6], "0123456789") != "" || s[6] != '$' || strings.Trim(s[7:], alphabet) != "" {
		return nil, errors.New("bcrypt hash: want $2b$CC$ and 53 characters of salt and hash")
	}
	// The library accepts "$2y$" as well; its cost check is the one that counts.
	if _, err := bcrypt.Cost([]byte(s)); err != nil {
		return nil, fmt.Errorf("bcrypt hash: %w", err)
	}
	return bcryptHash(s), nil
}

func (h bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h, password) == nil
}

// argon2idHash is an argon2id hash with its parameters.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, sum    []byte
}

// Bounds of argon2id parameters, so that a hash cannot make a login take
// minutes or gigabytes.
const (
	maxArgonMemoryKiB = 1 << 21 // 2 GiB
	maxArgonTime      = 1000
)

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH", salt and hash
// in unpadded standard base64.
func parseArgon2id(s string) (*argon2idHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=...,t=...,p=...$salt$hash")
	}
	var m, t, p uint64
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("argon2id hash: parameters %q are not m=...,t=...,p=...", parts[3])
	}
	for i, dst := range []*uint64{&m, &t, &p} {
		val, ok := strings.CutPrefix(params[i], []string{"m=", "t=", "p="}[i])
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil || strconv.FormatUint(n, 10) != val {
			return nil, fmt.Errorf("argon2id hash: parameters %q are not m=...,t=...,p=...", parts[3])
		}
		*dst = n
	}
	if p < 1 || p > 255 || t < 1 || t > maxArgonTime || m < 8*p || m > maxArgonMemoryKiB {
		return nil, fmt.Errorf("argon2id hash: parameters %q out of range (p 1-255, t 1-%d, m %d-%d)", parts[3], maxArgonTime, 8*p, maxArgonMemoryKiB)
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return nil, errors.New("argon2id hash: the salt is not unpadded base64 of at least 8 bytes")
	}
	sum, err := enc.DecodeString(parts[5])
	if err != nil || len(sum) < 16 || len(sum) > 1024 {
		return nil, errors.New("argon2id hash: the hash is not unpadded base64 of 16-1024 bytes")
	}
	return &argon2idHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, sum: sum}, nil
}

func (h *argon2idHash) verify(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}
