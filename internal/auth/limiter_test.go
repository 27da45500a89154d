package auth

import (
	"net/netip"
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	cases := []struct {
		failures, free int
		want           time.Duration
	}{
		{0, freeAttempts, 0}, {1, freeAttempts, 0}, {4, freeAttempts, 0},
		{5, freeAttempts, time.Second}, {6, freeAttempts, 2 * time.Second}, {7, freeAttempts, 4 * time.Second},
		{13, freeAttempts, 256 * time.Second}, {14, freeAttempts, maxLockout}, {100, freeAttempts, maxLockout},
		{1 << 40, freeAttempts, maxLockout},
		{19, netFreeAttempts, 0}, {20, netFreeAttempts, time.Second}, {21, netFreeAttempts, 2 * time.Second},
	}
	for _, c := range cases {
		if got := lockout(c.failures, c.free); got != c.want {
			t.Errorf("lockout(%d, %d) = %v, want %v", c.failures, c.free, got, c.want)
		}
	}
}

func TestLimitKeys(t *testing.T) {
	cases := []struct {
		addr             string
		address, network string // "" for the invalid Prefix
	}{
		{"192.0.2.1", "192.0.2.1/32", ""},
		{"::ffff:192.0.2.1", "192.0.2.1/32", ""},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"2001:db8:1:2:ffff::9", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64", "2001:db8:1::/48"},
		{"2001:db8:2:3::1", "2001:db8:2:3::/64", "2001:db8:2::/48"},
		{"fe80::1%eth0", "fe80::/64", "fe80::/48"},
		{"::1", "::/64", "::/48"},
	}
	show := func(p netip.Prefix) string {
		if !p.IsValid() {
			return ""
		}
		return p.String()
	}
	for _, c := range cases {
		a, n := limitKeys(netip.MustParseAddr(c.addr))
		if show(a) != c.address || show(n) != c.network {
			t.Errorf("limitKeys(%s) = %q, %q; want %q, %q", c.addr, show(a), show(n), c.address, c.network)
		}
	}
	if a, n := limitKeys(netip.Addr{}); a.IsValid() || n.IsValid() {
		t.Errorf("limitKeys(the invalid address) = %v, %v; want two invalid prefixes", a, n)
	}
}

func TestEntryWait(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		e     limitEntry
		after time.Duration // now - e.last
		want  time.Duration
	}{
		{"none", limitEntry{}, 0, 0},
		{"free failures", limitEntry{freeAttempts - 1, t0}, 0, 0},
		{"just locked", limitEntry{freeAttempts, t0}, 0, time.Second},
		{"half way", limitEntry{freeAttempts + 1, t0}, time.Second, time.Second},
		{"lockout over", limitEntry{freeAttempts + 1, t0}, 2 * time.Second, 0},
		{"long locked", limitEntry{100, t0}, time.Minute, maxLockout - time.Minute},
	}
	for _, c := range cases {
		if got := c.e.wait(t0.Add(c.after), freeAttempts); got != c.want {
			t.Errorf("%s: %+v.wait(last+%v, %d) = %v, want %v", c.name, c.e, c.after, freeAttempts, got, c.want)
		}
	}
}

func TestSpend(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const per = 30
	step := budgetWindow / per // 2 s
	cases := []struct {
		name     string
		full     time.Time
		wantFull time.Time
		wantWait time.Duration
		wantOK   bool
	}{
		{"unused", time.Time{}, now.Add(step), 0, true},
		{"whole again long ago", now.Add(-time.Hour), now.Add(step), 0, true},
		{"one spent", now.Add(step), now.Add(2 * step), 0, true},
		{"the last one", now.Add(budgetWindow - step), now.Add(budgetWindow), 0, true},
		{"spent", now.Add(budgetWindow), now.Add(budgetWindow), step, false},
		{"spent, half a step back", now.Add(budgetWindow - step/2), now.Add(budgetWindow - step/2), step / 2, false},
	}
	for _, c := range cases {
		full, wait, ok := spend(c.full, now, per)
		if !full.Equal(c.wantFull) || wait != c.wantWait || ok != c.wantOK {
			t.Errorf("%s: spend(now%+v, now, %d) = now%+v, %v, %v; want now%+v, %v, %v", c.name,
				c.full.Sub(now), per, full.Sub(now), wait, ok, c.wantFull.Sub(now), c.wantWait, c.wantOK)
		}
	}
}

// TestLimiterSchedule walks one address through the policy on a fake clock.
func TestLimiterSchedule(t *testing.T) {
	l := newLimiter(1000)
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
		refused := l.attempt(home, now)
		if (refused == nil) != (s.wantWait == 0) || refused != nil && (refused.RetryAfter != s.wantWait || refused.Limit != LimitAddress) {
			t.Fatalf("step %d (+%v): attempt = %v; want a wait of %v", i, s.after, refused, s.wantWait)
		}
	}
	if refused := l.attempt(other, now); refused != nil {
		t.Errorf("attempt from another address: %v, want it allowed", refused)
	}
	l.succeeded(home)
	if refused := l.attempt(home, now); refused != nil {
		t.Errorf("attempt after a success: %v, want it allowed", refused)
	}
}

// TestLimiterUndo: an attempt taken back leaves the counts as they were.
func TestLimiterUndo(t *testing.T) {
	l := newLimiter(2)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	v6 := netip.MustParseAddr("2001:db8::1")
	for range 10 {
		if refused := l.attempt(v6, now); refused != nil {
			t.Fatalf("attempt with the budget and the counts taken back each time: %v, want it allowed", refused)
		}
		l.undo(v6)
	}
	if n := l.tracked(); n != 0 {
		t.Errorf("after attempts all taken back the limiter tracks %d entries, want 0", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1 << 30) // the server's budget is not what this tests
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
	if refused := l.attempt(last, soon); refused == nil {
		t.Errorf("the address that failed last may try again at once; want it locked")
	}
	if refused := l.attempt(first, soon); refused != nil {
		t.Errorf("the address idle longest is still locked (%v); want it forgotten to make room", refused)
	}
}
