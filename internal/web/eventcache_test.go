package web

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingPayload is a sharedPayload whose state is gen and whose encodings
// are numbered: the payload of the nth encoding is "payload n".
type countingPayload struct {
	*sharedPayload
	gen     uint64
	encodes int
	fail    bool // the next encodings fail
}

func newCountingPayload() *countingPayload {
	c := &countingPayload{}
	c.sharedPayload = &sharedPayload{
		generation: func() uint64 { return c.gen },
		encode: func(time.Time) ([]byte, error) {
			c.encodes++
			if c.fail {
				return nil, errors.New("encoding failed")
			}
			return fmt.Appendf(nil, "payload %d", c.encodes), nil
		},
		maxAge: payloadMaxAge,
	}
	return c
}

func TestSharedPayload(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	type call struct {
		gen  uint64
		at   time.Duration // after t0
		fail bool
		want string // the payload, or "error"
	}
	tests := []struct {
		name    string
		calls   []call
		encodes int
	}{
		{"first call encodes", []call{{gen: 1, want: "payload 1"}}, 1},
		{"same generation reuses", []call{
			{gen: 1, want: "payload 1"},
			{gen: 1, at: 10 * time.Millisecond, want: "payload 1"},
			{gen: 1, at: payloadMaxAge - 1, want: "payload 1"},
		}, 1},
		{"new generation encodes again", []call{
			{gen: 1, want: "payload 1"},
			{gen: 2, want: "payload 2"},
			{gen: 2, want: "payload 2"},
			{gen: 3, want: "payload 3"},
		}, 3},
		{"generation 0 is a state like any other", []call{
			{gen: 0, want: "payload 1"},
			{gen: 0, want: "payload 1"},
		}, 1},
		{"same generation past maxAge encodes again", []call{
			{gen: 1, want: "payload 1"},
			{gen: 1, at: payloadMaxAge, want: "payload 2"},
			{gen: 1, at: payloadMaxAge + 10*time.Millisecond, want: "payload 2"},
		}, 2},
		{"a failed encoding is not kept", []call{
			{gen: 1, want: "payload 1"},
			{gen: 2, fail: true, want: "error"},
			{gen: 2, want: "payload 3"},
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCountingPayload()
			var last []byte
			for i, cl := range tt.calls {
				c.gen, c.fail = cl.gen, cl.fail
				data, err := c.get(t0.Add(cl.at))
				got := string(data)
				if err != nil {
					got = "error"
				}
				if got != cl.want {
					t.Fatalf("call %d: get at generation %d, t0+%v = %q, %v; want %q", i, cl.gen, cl.at, data, err, cl.want)
				}
				// Reused means the very same bytes, not an equal copy.
				if i > 0 && cl.want == tt.calls[i-1].want && &data[0] != &last[0] {
					t.Errorf("call %d: get at generation %d returned a copy of the kept payload, want the same bytes", i, cl.gen)
				}
				last = data
			}
			if c.encodes != tt.encodes {
				t.Errorf("%d calls encoded %d times, want %d", len(tt.calls), c.encodes, tt.encodes)
			}
		})
	}
}

// TestSharedPayloadConcurrent checks that streams asking at once for the
// same state wait for one encoding instead of each making their own.
func TestSharedPayloadConcurrent(t *testing.T) {
	const streams = 8
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	encodes := 0
	c := &sharedPayload{
		generation: func() uint64 { return 7 },
		encode: func(time.Time) ([]byte, error) {
			mu.Lock()
			encodes++
			first := encodes == 1
			mu.Unlock()
			if first {
				close(started)
				<-release
			}
			return []byte("payload"), nil
		},
		maxAge: payloadMaxAge,
	}
	now := time.Now()
	var wg sync.WaitGroup
	results := make([][]byte, streams)
	for i := range streams {
		wg.Go(func() {
			data, err := c.get(now)
			if err != nil {
				t.Errorf("stream %d: get = %v", i, err)
			}
			results[i] = data
		})
	}
	<-started
	// Give the other streams time to ask while the first encodes; nothing
	// tells when a goroutine waits on a mutex. Too short a wait could only
	// let a wrong cache pass, never fail a right one.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if encodes != 1 {
		t.Errorf("%d streams called get at once for one generation: %d encodings, want 1", streams, encodes)
	}
	for i, data := range results {
		if string(data) != "payload" || &data[0] != &results[0][0] {
			t.Errorf("stream %d: get = %q at %p, want the bytes of stream 0 (%p)", i, data, data, results[0])
		}
	}
}
