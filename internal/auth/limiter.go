package auth

import (
	"net/netip"
	"sync"
	"time"
)

// The failed-login policy: an address may fail freeAttempts times in a row;
// after that it must wait before each further attempt, twice as long after
// every failure, up to maxLockout. An address that made no attempt for
// forgetAfter starts afresh, and a successful login clears its count.
const (
	freeAttempts = 5
	firstLockout = time.Second
	maxLockout   = 5 * time.Minute
	forgetAfter  = 15 * time.Minute
	// maxTracked bounds the memory of the limiter (about 100 bytes an address).
	maxTracked = 10000
)

// lockout is how long an address must wait after its failures-th failure in
// a row before it may try again. It is pure.
func lockout(failures int) time.Duration {
	if failures < freeAttempts {
		return 0
	}
	shift := min(failures-freeAttempts, 20) // 2^20 s is far past maxLockout
	return min(firstLockout<<shift, maxLockout)
}

// limitKey is what failures are counted by: the address for IPv4, its /64
// for IPv6, since one host commonly holds a whole /64.
func limitKey(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // the invalid address: all such clients share one entry
	}
	return p
}

// limiter counts failed logins per address.
type limiter struct {
	mu      sync.Mutex
	entries map[netip.Prefix]*limitEntry
}

type limitEntry struct {
	failures int       // attempts in a row not followed by a success
	until    time.Time // no attempt before this
	last     time.Time // of the last attempt
}

func newLimiter() *limiter {
	return &limiter{entries: map[netip.Prefix]*limitEntry{}}
}

// attempt decides whether addr may try a login at now. When it may, the
// attempt is counted as a failure at once, so that a burst of parallel
// attempts cannot all pass before the first one fails; succeeded undoes it.
// When it may not, attempt returns how long addr must wait.
func (l *limiter) attempt(addr netip.Addr, now time.Time) (wait time.Duration, ok bool) {
	key := limitKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e != nil && now.Sub(e.last) >= forgetAfter {
		delete(l.entries, key)
		e = nil
	}
	if e != nil && now.Before(e.until) {
		return e.until.Sub(now), false
	}
	if e == nil {
		l.makeRoom(now)
		e = &limitEntry{}
		l.entries[key] = e
	}
	e.failures++
	e.last = now
	e.until = now.Add(lockout(e.failures))
	return 0, true
}

// succeeded clears the failures of addr after a successful login.
func (l *limiter) succeeded(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, limitKey(addr))
}

// makeRoom keeps the table under maxTracked entries: it forgets the entries
// due to be forgotten and, if that is not enough, the one idle longest. The
// caller holds mu.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.entries) < maxTracked {
		return
	}
	for k, e := range l.entries {
		if now.Sub(e.last) >= forgetAfter {
			delete(l.entries, k)
		}
	}
	if len(l.entries) < maxTracked {
		return
	}
	deleteEarliest(l.entries, func(e *limitEntry) time.Time { return e.last })
}

// deleteEarliest deletes the entry of m whose time, as at tells, is the
// earliest. The tables it trims hold a few thousand entries at most, and it
// runs only when one is full.
func deleteEarliest[K comparable, V any](m map[K]V, at func(V) time.Time) {
	var earliest K
	var first time.Time
	for k, v := range m {
		if t := at(v); first.IsZero() || t.Before(first) {
			earliest, first = k, t
		}
	}
	delete(m, earliest)
}

// tracked is the number of addresses the limiter holds.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
