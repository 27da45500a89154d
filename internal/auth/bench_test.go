package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkToken is the cost an API token adds to every request: a SHA-256
// and a comparison with each of 10 configured tokens.
func BenchmarkToken(b *testing.B) {
	var tokens []Token
	var last string
	for i := range 10 {
		tok, sum := NewToken()
		tokens = append(tokens, Token{Name: "t" + string(rune('0'+i)), SHA256: sum})
		last = tok
	}
	a, err := New(Credentials{Tokens: tokens}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok := a.Token(last); !ok {
			b.Fatal("token not found")
		}
	}
}

// BenchmarkSession is the cost a session cookie adds to every request.
func BenchmarkSession(b *testing.B) {
	s := newSessions()
	now := time.Now()
	var id string
	for range 100 {
		id = s.create("admin", now, time.Hour).ID
	}
	for b.Loop() {
		if _, ok := s.lookup(id, now); !ok {
			b.Fatal("session not found")
		}
	}
}

// BenchmarkLoginCost12 is one login against a hash of HashPassword (bcrypt
// cost 12): what each guess costs (run without -race: it slows bcrypt 30x).
func BenchmarkLoginCost12(b *testing.B) {
	h, err := HashPassword("correct horse")
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(Credentials{Username: "admin", PasswordHash: h}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("127.0.0.1")
	for b.Loop() {
		if _, err := a.Login(context.Background(), addr, "admin", "correct horse"); err != nil {
			b.Fatal(err)
		}
	}
}
