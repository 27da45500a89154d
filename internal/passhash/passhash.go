// Package passhash parses the password hashes web_ui.auth.password_hash may
// hold, bcrypt and argon2id, and checks passwords against them. The
// configuration loader uses it to report a bad hash at load time, with what
// is wrong; the authenticator uses it to check logins. One parser serves
// both, so a hash the loader accepts is one a login can be checked against.
package passhash

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Hash is a parsed password hash.
type Hash interface {
	// Verify reports whether password is the one hashed, in constant time.
	Verify(password []byte) bool
}

// Caps on the cost of a hash, so that one login cannot take gigabytes or
// seconds on end: the authenticator runs two checks at once, so the memory of
// a login is at most twice maxArgonMemoryKiB. They sit well above the costs
// recommended for logins (bcrypt 10-12; argon2id 19-64 MiB, t=2-3, p=1-4 in
// OWASP's sheet and RFC 9106's second recommendation) and well below what
// makes a login a denial of service.
const (
	// maxBcryptCost: cost 12, hash-password's, takes about 0.25 s on one
	// core; each step doubles it, so 14 is about a second.
	maxBcryptCost = 14
	// maxArgonMemoryKiB is 256 MiB.
	maxArgonMemoryKiB = 256 << 10
	// maxArgonTime passes over that memory take a few seconds at most.
	maxArgonTime = 10
	// maxArgonThreads: more lanes than cores buy no strength, only goroutines.
	maxArgonThreads = 16
)

// Parse parses a bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string) hash,
// refusing one whose cost is over the caps above. Its error says what is
// wrong, for the person who wrote the hash.
func Parse(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		h, err := parseBcrypt(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid bcrypt hash: %w", err)
		}
		if cost, _ := bcrypt.Cost(h); cost > maxBcryptCost {
			return nil, fmt.Errorf("bcrypt cost %d is over the cap of %d that pyvisor accepts (each step doubles the time of a login)", cost, maxBcryptCost)
		}
		return h, nil
	case strings.HasPrefix(s, "$argon2id$"):
		h, err := parseArgon2id(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid argon2id hash: %w", err)
		}
		if msg := argon2idOverCap(h.memory, h.time, h.threads); msg != "" {
			return nil, errors.New(msg)
		}
		return h, nil
	}
	shown := s
	if len(shown) > 8 {
		shown = shown[:8] + "..."
	}
	return nil, fmt.Errorf("unknown hash format %q: expected bcrypt ($2b$...) or argon2id ($argon2id$v=19$...)", shown)
}

// bcrypt's alphabet: base64 with "./" first and no padding.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptHash is a bcrypt hash; x/crypto/bcrypt compares in constant time.
type bcryptHash []byte

// parseBcrypt checks "$2b$CC$" + 53 characters of salt and hash, with a cost
// CC of 04-31.
func parseBcrypt(s string) (bcryptHash, error) {
	if len(s) != 60 {
		return nil, fmt.Errorf("%d characters long, want 60", len(s))
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || !isDigit(s[4]) || !isDigit(s[5]) || s[6] != '$' || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("cost %q is not 04-31", s[4:6])
	}
	for _, r := range s[7:] {
		if !strings.ContainsRune(bcryptAlphabet, r) {
			return nil, fmt.Errorf("character %q is not in bcrypt's alphabet", r)
		}
	}
	// The library's own reading of the hash is the one a login goes through.
	if _, err := bcrypt.Cost([]byte(s)); err != nil {
		return nil, err
	}
	return bcryptHash(s), nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func (h bcryptHash) Verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h, password) == nil
}

// argon2idHash is an argon2id hash with its parameters.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, sum    []byte
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH", salt and hash
// in unpadded standard base64.
func parseArgon2id(s string) (*argon2idHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New("want $argon2id$v=19$m=...,t=...,p=...$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("version %q is not v=19", parts[2])
	}
	var m, t, p uint64
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("parameters %q are not m=...,t=...,p=...", parts[3])
	}
	for i, dst := range []*uint64{&m, &t, &p} {
		val, ok := strings.CutPrefix(params[i], []string{"m=", "t=", "p="}[i])
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil || strconv.FormatUint(n, 10) != val {
			return nil, fmt.Errorf("parameters %q are not m=...,t=...,p=...", parts[3])
		}
		*dst = n
	}
	switch {
	case p < 1 || p > 255:
		return nil, fmt.Errorf("p=%d is not 1-255", p)
	case t < 1:
		return nil, fmt.Errorf("t=%d is not at least 1", t)
	case m < 8*p:
		return nil, fmt.Errorf("m=%d is not at least 8*p=%d (KiB)", m, 8*p)
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return nil, errors.New("the salt is not unpadded base64 of at least 8 bytes")
	}
	sum, err := enc.DecodeString(parts[5])
	if err != nil || len(sum) < 16 || len(sum) > 1024 {
		return nil, errors.New("the hash is not unpadded base64 of 16-1024 bytes")
	}
	return &argon2idHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, sum: sum}, nil
}

// argon2idOverCap says which parameter of a well-formed argon2id hash is over
// pyvisor's caps, or returns "".
func argon2idOverCap(memoryKiB, time uint32, threads uint8) string {
	switch {
	case memoryKiB > maxArgonMemoryKiB:
		return fmt.Sprintf("argon2id m=%d (KiB) is over the cap of %d (%d MiB) that pyvisor accepts", memoryKiB, maxArgonMemoryKiB, maxArgonMemoryKiB>>10)
	case time > maxArgonTime:
		return fmt.Sprintf("argon2id t=%d is over the cap of %d that pyvisor accepts", time, maxArgonTime)
	case threads > maxArgonThreads:
		return fmt.Sprintf("argon2id p=%d is over the cap of %d that pyvisor accepts", threads, maxArgonThreads)
	}
	return ""
}

func (h *argon2idHash) Verify(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}
