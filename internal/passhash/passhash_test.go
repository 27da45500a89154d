package passhash

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Well-formed hashes: bcrypt of "correct horse" at cost 4, and the argon2id
// example in the format of RFC 9106's reference implementation.
const (
	testBcrypt   = "$2a$04$s3EVOilD1u3Oqzn.4XAs/exAh7rB0BNcQV3tPdr1WGDEQYTzUneiu"
	testArgon2id = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
)

func TestParse(t *testing.T) {
	ar := testArgon2id
	tests := []struct {
		hash string
		want string // "" when the hash is good, else a part of the error
	}{
		{testBcrypt, ""},
		{"$2b$" + testBcrypt[4:], ""},
		{"$2y$" + testBcrypt[4:], ""},
		{"$2a$14$" + testBcrypt[7:], ""},
		{ar, ""},
		{strings.Replace(ar, "m=65536", "m=262144", 1), ""},
		{strings.Replace(ar, "m=65536", "m=32", 1), ""},
		{strings.Replace(ar, "t=3", "t=10", 1), ""},
		{strings.Replace(ar, "p=4", "p=16", 1), ""},
		// Over the caps: well-formed, but a login would take too long or too much memory.
		{"$2a$15$" + testBcrypt[7:], "bcrypt cost 15 is over the cap of 14"},
		{"$2a$31$" + testBcrypt[7:], "bcrypt cost 31 is over the cap of 14"},
		{strings.Replace(ar, "m=65536", "m=262145", 1), "argon2id m=262145 (KiB) is over the cap of 262144 (256 MiB)"},
		{strings.Replace(ar, "m=65536", "m=2097152", 1), "m=2097152 (KiB) is over the cap"},
		{strings.Replace(ar, "t=3", "t=11", 1), "argon2id t=11 is over the cap of 10"},
		{strings.Replace(ar, "t=3", "t=1000", 1), "t=1000 is over the cap of 10"},
		{strings.Replace(ar, "p=4", "p=17", 1), "argon2id p=17 is over the cap of 16"},
		{strings.Replace(ar, "p=4", "p=255", 1), "p=255 is over the cap of 16"},
		{"$2x$" + testBcrypt[4:], "unknown hash format"},
		{"$2a$03$" + testBcrypt[7:], `not a valid bcrypt hash: cost "03" is not 04-31`},
		{"$2a$32$" + testBcrypt[7:], `cost "32"`},
		{"$2a$+4$" + testBcrypt[7:], `cost "+4"`},
		{"$2a$ 4$" + testBcrypt[7:], `cost " 4"`},
		{testBcrypt[:59] + "!", `character '!'`},
		{testBcrypt[:59] + "=", `character '='`},
		{testBcrypt + "x", "61 characters"},
		{testBcrypt[:50], "50 characters long"},
		{"", "unknown hash format"},
		{"plain", `unknown hash format "plain"`},
		{"hunter2hunter2", `unknown hash format "hunter2h..."`},
		{strings.Replace(ar, "argon2id", "argon2i", 1), "unknown hash format"},
		{strings.Replace(ar, "v=19", "v=16", 1), `not a valid argon2id hash: version "v=16"`},
		{"$argon2id$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "want $argon2id$v=19"},
		{"$argon2id$", "want $argon2id$v=19"},
		{ar + "$", "want $argon2id$v=19"},
		{strings.Replace(ar, "m=65536,t=3,p=4", "t=3,m=65536,p=4", 1), "parameters"},
		{strings.Replace(ar, "m=65536,t=3,p=4", "m=65536,t=3", 1), "parameters"},
		{strings.Replace(ar, "p=4", "p=4,x=1", 1), "parameters"},
		{strings.Replace(ar, "m=65536", "m=065536", 1), "parameters"},
		{strings.Replace(ar, "t=3", "t=0", 1), "t=0"},
		{strings.Replace(ar, "t=3", "t=4294967295", 1), "t=4294967295"},
		{strings.Replace(ar, "m=65536", "m=16", 1), "m=16"},
		{strings.Replace(ar, "m=65536", "m=31", 1), "m=31"},
		{strings.Replace(ar, "m=65536", "m=4294967295", 1), "m=4294967295"},
		{strings.Replace(ar, "p=4", "p=0", 1), "p=0"},
		{strings.Replace(ar, "p=4", "p=256", 1), "p=256"},
		{strings.Replace(ar, "$c29tZXNhbHQ$", "$c29tZXNhbHQ=$", 1), "salt"},
		{strings.Replace(ar, "$c29tZXNhbHQ$", "$c29t$", 1), "salt"},
		{ar[:len(ar)-28], "hash is not"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.hash)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Parse(%q) = %v, want no error", tt.hash, err)
		case tt.want != "" && err == nil:
			t.Errorf("Parse(%q) = no error, want one containing %q", tt.hash, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.hash, err, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("open sesame"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("open sesame"), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	for name, s := range map[string]string{
		"bcrypt":   string(bc),
		"argon2id": "$argon2id$v=19$m=64,t=1,p=1$" + b64(salt) + "$" + b64(sum),
	} {
		h, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%s hash %q) = %v", name, s, err)
		}
		if !h.Verify([]byte("open sesame")) {
			t.Errorf("%s hash of %q: Verify of that password = false, want true", name, "open sesame")
		}
		for _, wrong := range []string{"open sesame!", "open", ""} {
			if h.Verify([]byte(wrong)) {
				t.Errorf("%s hash of %q: Verify(%q) = true, want false", name, "open sesame", wrong)
			}
		}
	}
}
