package auth

import (
	"net/netip"
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {4, 0},
		{5, time.Second}, {6, 2 * time.Second}, {7, 4 * time.Second},
		{13, 256 * time.Second}, {14, maxLockout}, {100, maxLockout}, {1 << 40, maxLockout},
	}
	for _, c := range cases {
		if got := lockout(c.failures); got != c.want {
			t.Errorf("lockout(%d) = %v, want %v", c.failures, got, c.want)
		}
	}
}

func TestLimitKey(t *testing.T) {
	cases := []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"fe80::1%eth0", "fe80::2", true},
	}
	for _, c := range cases {
		ka, kb := limitKey(netip.MustParseAddr(c.a)), limitKey(netip.MustParseAddr(c.b))
		if (ka == kb) != c.same {
			t.Errorf("limitKey(%s) = %v, limitKey(%s) = %v; want same=%v", c.a, ka, c.b, kb, c.same)
		}
	}
}

// TestLimiterSchedule walks one address through the policy on a fake clock.
func TestLimiterSchedule(t *testing.T) {
	l := newLimiter()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		after    time.Duration // since the previous step
		wantWait time.Duration // 0: the attempt is allowed
	}
	steps := []step{
		{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, // the free attempts
		{0, time.Second},
		{500 * time.Millisecond, 500 * time.Millisecond},
		{500 * time.Millisecond, 0}, // 6th failure: 2 s
		{time.Second, time.Second},
		{time.Second, 0},               // 7th: 4 s
		{4 * time.Second, 0},           // 8th: 8 s
		{10 * time.Minute, 0},          // 9th: 16 s
		{forgetAfter - time.Second, 0}, // 10th: 32 s
		{forgetAfter, 0},               // forgotten: a first failure again
		{0, 0}, {0, 0}, {0, 0}, {0, 0}, // 2nd-5th
		{0, time.Second},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		wait, ok := l.attempt(home, now)
		if ok != (s.wantWait == 0) || wait != s.wantWait {
			t.Fatalf("step %d (+%v): attempt = wait %v, ok %v; want wait %v", i, s.after, wait, ok, s.wantWait)
		}
	}
	if _, ok := l.attempt(other, now); !ok {
		t.Errorf("attempt from another address was refused")
	}
	l.succeeded(home)
	if _, ok := l.attempt(home, now); !ok {
		t.Errorf("attempt after a success was refused")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter()
	now := time.Now()
	first := netip.AddrFrom4([4]byte{10, 0, 0, 0})
	for i := range maxTracked + 100 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for range freeAttempts {
			l.attempt(addr, now.Add(time.Duration(i)))
		}
	}
	if n := l.tracked(); n != maxTracked {
		t.Errorf("after %d addresses the limiter tracks %d, want %d", maxTracked+100, n, maxTracked)
	}
	// Each address is locked out for a second after its failures. Within that
	// second, the first address, idle longest, was forgotten to make room, and
	// the last one is still locked.
	n := maxTracked + 99
	last := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	soon := now.Add(time.Millisecond)
	if _, ok := l.attempt(last, soon); ok {
		t.Errorf("the address that failed last may try again at once; want it locked")
	}
	if _, ok := l.attempt(first, soon); !ok {
		t.Errorf("the address idle longest is still locked; want it forgotten to make room")
	}
}
