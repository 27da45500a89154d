package web

import (
	"sync"
	"time"
)

// payloadMaxAge bounds how long a payload is reused for an unchanged state:
// uptime_seconds and next_start_seconds are computed at the time of encoding,
// so a stream that opens long after the last change (a quiet manager, a long
// sampling interval) gets them afresh. It is far above minEventGap, within
// which every open stream asks for the payload of a change, and matches the
// resolution of uptime_seconds.
const payloadMaxAge = time.Second

// sharedPayload is the encoded data of the latest "programs" event, made once
// per state and sent as the same bytes to every event stream: with many
// programs the encoding costs milliseconds, which each open dashboard would
// otherwise pay again for identical bytes. The handler owns one; its mutex
// guards the cached payload and is held while encoding, so that streams asking
// at once for the same state wait for one encoding instead of each making
// their own. Nobody holds it while writing to a client.
type sharedPayload struct {
	// generation identifies the state encode reads (Supervisor.Generation):
	// it is read before each encoding, so a change racing the encoding only
	// makes the next call encode again, and never leaves a payload older than
	// the number it is kept under.
	generation func() uint64
	// encode makes the payload of the current state at time now.
	encode func(now time.Time) ([]byte, error)
	maxAge time.Duration

	mu   sync.Mutex
	data []byte // nil until the first successful encoding; never changed once made
	gen  uint64 // the generation data was made from
	at   time.Time
}

// get returns the payload of the current state at time now: the kept one if
// the state has not changed since it was made and it is younger than maxAge,
// else a new one, which it keeps. The bytes returned must not be modified.
func (c *sharedPayload) get(now time.Time) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := c.generation()
	if c.data != nil && gen == c.gen && now.Sub(c.at) < c.maxAge {
		return c.data, nil
	}
	data, err := c.encode(now)
	if err != nil {
		return nil, err
	}
	c.data, c.gen, c.at = data, gen, now
	return data, nil
}
