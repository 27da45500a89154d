package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// TestLoginServerBudget: failures from many addresses, each within its own
// free attempts, together spend the server's budget; then every login is
// refused, whoever makes it, until the budget refills.
func TestLoginServerBudget(t *testing.T) {
	c := newClock()
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, c)
	for i := range DefaultFailedLoginsPerMinute {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i), 1})
		if _, err := a.Login(t.Context(), addr, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("bad login %d from %s: %v, want ErrInvalidCredentials", i+1, addr, err)
		}
	}
	fresh := netip.MustParseAddr("10.1.0.1")
	_, err := a.Login(t.Context(), fresh, "admin", testPassword)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Limit != LimitServer || rl.RetryAfter != budgetWindow/DefaultFailedLoginsPerMinute {
		t.Fatalf("right login from a fresh address after %d failures from others = %v; want a RateLimitedError (server) of %v",
			DefaultFailedLoginsPerMinute, err, budgetWindow/DefaultFailedLoginsPerMinute)
	}
	c.Advance(rl.RetryAfter)
	if _, err := a.Login(t.Context(), fresh, "admin", testPassword); err != nil {
		t.Fatalf("right login once the budget refilled by one: %v, want a session", err)
	}
	// The success gave its share back: one more failure fits at once.
	if _, err := a.Login(t.Context(), fresh, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("bad login after a success: %v, want ErrInvalidCredentials", err)
	}
}

// TestLoginIPv6Network: hopping from /64 to /64 within one /48 buys
// netFreeAttempts failures in all, not freeAttempts per /64.
func TestLoginIPv6Network(t *testing.T) {
	c := newClock()
	a := newAuth(t, Credentials{Username: "admin", PasswordHash: fastBcrypt(t, testPassword)}, c)
	for i := range netFreeAttempts {
		addr := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i))
		if _, err := a.Login(t.Context(), addr, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("bad login %d from %s: %v, want ErrInvalidCredentials", i+1, addr, err)
		}
	}
	_, err := a.Login(t.Context(), netip.MustParseAddr("2001:db8:1:ffff::1"), "admin", testPassword)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Limit != LimitNetwork || rl.RetryAfter != firstLockout {
		t.Fatalf("login from a fresh /64 of a /48 with %d failures = %v; want a RateLimitedError (network) of %v",
			netFreeAttempts, err, firstLockout)
	}
	if _, err := a.Login(t.Context(), netip.MustParseAddr("2001:db8:2::1"), "admin", testPassword); err != nil {
		t.Errorf("right login from another /48: %v, want a session", err)
	}
}

// TestLoginCheckWaitBounded: with every turn to check a password taken, a
// login is refused after maxCheckWait, on synctest's clock, and its attempt
// is not counted as a failure.
func TestLoginCheckWaitBounded(t *testing.T) {
	hash := fastBcrypt(t, testPassword)
	synctest.Test(t, func(t *testing.T) {
		a, err := New(Credentials{Username: "admin", PasswordHash: hash}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range maxConcurrentChecks {
			a.checks <- struct{}{}
		}
		start := time.Now()
		_, err = a.Login(t.Context(), home, "admin", testPassword)
		var rl *RateLimitedError
		if waited := time.Since(start); !errors.As(err, &rl) || rl.Limit != LimitBusy || waited != maxCheckWait {
			t.Fatalf("Login with every turn taken = %v after %v; want a RateLimitedError (busy) after %v", err, waited, maxCheckWait)
		}
		for range maxConcurrentChecks {
			<-a.checks
		}
		for i := range freeAttempts {
			if _, err := a.Login(t.Context(), home, "admin", "guess"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("bad login %d after the refusal: %v, want ErrInvalidCredentials (the refused one counted nothing)", i+1, err)
			}
		}
	})
}
