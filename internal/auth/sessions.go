package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// maxSessions bounds the sessions kept. Only a correct password creates one,
// so the bound is for a script that logs in in a loop, not for an attacker.
const maxSessions = 10000

// sessions are the logged-in browsers. They are keyed by the SHA-256 of the
// session ID, so a map lookup, whose time may depend on the key, reveals
// nothing usable about the IDs.
type sessions struct {
	mu   sync.Mutex
	byID map[[sha256.Size]byte]sessionEntry
}

type sessionEntry struct {
	user    string
	expires time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[[sha256.Size]byte]sessionEntry{}}
}

// create starts a session for user at now, lasting lifetime.
func (s *sessions) create(user string, now time.Time, lifetime time.Duration) Session {
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	e := sessionEntry{user: user, expires: now.Add(lifetime)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		s.sweep(now)
	}
	if len(s.byID) >= maxSessions {
		// Full even without the expired ones: drop the one that expires first.
		deleteEarliest(s.byID, func(e sessionEntry) time.Time { return e.expires })
	}
	s.byID[sha256.Sum256([]byte(id))] = e
	return Session{ID: id, User: user, Expires: e.expires}
}

// lookup returns the live session id; an expired one is removed.
func (s *sessions) lookup(id string, now time.Time) (Session, bool) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[key]
	if !ok {
		return Session{}, false
	}
	if !now.Before(e.expires) {
		delete(s.byID, key)
		return Session{}, false
	}
	return Session{ID: id, User: e.user, Expires: e.expires}, true
}

func (s *sessions) remove(id string) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, key)
}

// sweep removes the expired sessions. The caller holds mu.
func (s *sessions) sweep(now time.Time) {
	for k, e := range s.byID {
		if !now.Before(e.expires) {
			delete(s.byID, k)
		}
	}
}

// count is the number of sessions kept, expired or not.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}
