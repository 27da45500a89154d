package auth

import (
	"net/netip"
	"sync"
	"time"
)

// The failed-login policy. An address may fail freeAttempts times in a row;
// after that it must wait before each further attempt, twice as long after
// every failure, up to maxLockout. An IPv6 /48, which one customer of a
// provider commonly holds whole, is held to the same schedule after
// netFreeAttempts failures from all of its addresses together, so that
// hopping from /64 to /64 buys few guesses. An address or network that made
// no attempt for forgetAfter starts afresh, and a successful login clears the
// count of its address. Above both, the server as a whole accepts at most
// DefaultFailedLoginsPerMinute failures a minute, whoever makes them: a
// guesser with many addresses gets no more than that.
const (
	freeAttempts    = 5
	netFreeAttempts = 4 * freeAttempts
	firstLockout    = time.Second
	maxLockout      = 5 * time.Minute
	forgetAfter     = 15 * time.Minute
	// maxTracked bounds the memory of the limiter (about 100 bytes an entry).
	maxTracked = 10000
	// netBits is the IPv6 prefix counted as one network.
	netBits = 48
)

// DefaultFailedLoginsPerMinute is the failed-login budget of the whole server
// when Options.FailedLoginsPerMinute is 0. A person mistyping does not come
// near it; at a password check's pace it is a small fraction of what an
// attacker with many addresses could otherwise try.
const DefaultFailedLoginsPerMinute = 30

// budgetWindow is the period the budget of failed logins is counted over.
const budgetWindow = time.Minute

// lockout is how long an address (or network) must wait after its
// failures-th failure in a row, when free failures are let through without
// waiting. It is pure.
func lockout(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	shift := min(failures-free, 20) // 2^20 s is far past maxLockout
	return min(firstLockout<<shift, maxLockout)
}

// limitKeys are what failures of a client at addr are counted by: the address
// for IPv4 and its /64 for IPv6, since one host commonly holds a whole /64;
// and for IPv6 also its /48 (network is the invalid Prefix for IPv4). It is
// pure.
func limitKeys(addr netip.Addr) (address, network netip.Prefix) {
	addr = addr.Unmap()
	if !addr.Is6() {
		p, err := addr.Prefix(32)
		if err != nil {
			return netip.Prefix{}, netip.Prefix{} // the invalid address: all such clients share one entry
		}
		return p, netip.Prefix{}
	}
	address, _ = addr.Prefix(64) // cannot fail for an IPv6 address
	network, _ = addr.Prefix(netBits)
	return address, network
}

// limitEntry counts the failures of one address or network.
type limitEntry struct {
	failures int       // attempts in a row not followed by a success
	last     time.Time // of the last attempt
}

// wait is how long after now the holder of e must wait before its next
// attempt, with free failures let through; 0 when it may try at once. It is
// pure.
func (e limitEntry) wait(now time.Time, free int) time.Duration {
	if until := e.last.Add(lockout(e.failures, free)); now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// spend decides whether one more failure fits the server's budget of
// perWindow failures per budgetWindow, at now. full is when the budget will
// be whole again (the "theoretical arrival time" of the generic cell rate
// algorithm): each failure moves it budgetWindow/perWindow later, and a
// failure fits while it stays within budgetWindow of now. It returns the new
// full when the failure fits, else how long until one would. It is pure.
func spend(full, now time.Time, perWindow int) (next time.Time, wait time.Duration, ok bool) {
	t := full
	if t.Before(now) {
		t = now
	}
	t = t.Add(budgetWindow / time.Duration(perWindow))
	if ahead := t.Sub(now); ahead > budgetWindow {
		return full, ahead - budgetWindow, false
	}
	return t, 0, true
}

// limiter counts failed logins per address, per IPv6 network and in all. It
// is the one owner of that state; its methods are safe for concurrent use.
type limiter struct {
	perMinute int // the budget of failures of the whole server

	mu      sync.Mutex
	entries map[netip.Prefix]*limitEntry // addresses and networks: their prefixes differ in length
	full    time.Time                    // of the budget (see spend)
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMinute: perMinute, entries: map[netip.Prefix]*limitEntry{}}
}

// attempt decides whether addr may try a login at now. When it may, the
// attempt is counted as a failure at once, so that a burst of parallel
// attempts cannot all pass before the first one fails; succeeded or undo
// takes it back. When it may not, attempt returns why and how long to wait;
// a refused attempt counts for nothing.
func (l *limiter) attempt(addr netip.Addr, now time.Time) *RateLimitedError {
	address, network := limitKeys(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	ea, en := l.live(address, now), l.live(network, now)
	if wait := ea.wait(now, freeAttempts); wait > 0 {
		return &RateLimitedError{RetryAfter: wait, Limit: LimitAddress}
	}
	if network.IsValid() {
		if wait := en.wait(now, netFreeAttempts); wait > 0 {
			return &RateLimitedError{RetryAfter: wait, Limit: LimitNetwork}
		}
	}
	full, wait, ok := spend(l.full, now, l.perMinute)
	if !ok {
		return &RateLimitedError{RetryAfter: wait, Limit: LimitServer}
	}
	l.full = full
	l.count(address, now)
	if network.IsValid() {
		l.count(network, now)
	}
	return nil
}

// live returns the entry of key, or the zero entry when there is none or it
// is due to be forgotten (and then forgets it). The caller holds mu.
func (l *limiter) live(key netip.Prefix, now time.Time) limitEntry {
	e := l.entries[key]
	if e == nil {
		return limitEntry{}
	}
	if now.Sub(e.last) >= forgetAfter {
		delete(l.entries, key)
		return limitEntry{}
	}
	return *e
}

// count adds a failure at now to key's entry. The caller holds mu.
func (l *limiter) count(key netip.Prefix, now time.Time) {
	e := l.entries[key]
	if e == nil {
		l.makeRoom(now)
		e = &limitEntry{}
		l.entries[key] = e
	}
	e.failures++
	e.last = now
}

// succeeded takes back the failure attempt counted for a login from addr that
// succeeded, and clears the failures of its address. Its network keeps the
// others: a success from one /64 says nothing of the rest of the /48.
func (l *limiter) succeeded(addr netip.Addr) {
	address, network := limitKeys(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, address)
	if network.IsValid() {
		l.uncount(network)
	}
	l.refund()
}

// undo takes back the failure attempt counted for a login from addr whose
// password was never checked.
func (l *limiter) undo(addr netip.Addr) {
	address, network := limitKeys(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uncount(address)
	if network.IsValid() {
		l.uncount(network)
	}
	l.refund()
}

// uncount takes one failure off key's entry. The caller holds mu.
func (l *limiter) uncount(key netip.Prefix) {
	e := l.entries[key]
	if e == nil {
		return
	}
	if e.failures--; e.failures <= 0 {
		delete(l.entries, key)
	}
}

// refund gives one failure back to the server's budget. The caller holds mu.
func (l *limiter) refund() {
	l.full = l.full.Add(-budgetWindow / time.Duration(l.perMinute))
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

// tracked is the number of addresses and networks the limiter holds.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
