package memtune

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestTunerSchedule runs the tuner on synctest's fake clock and checks when it
// releases and frees: nothing before ready, the release once settle after it,
// then a free every period, and nothing after ctx ends.
func TestTunerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var released, freed atomic.Int32 // the tuner's goroutine counts, the test reads
		tu := tuner{
			settle:  5 * time.Second,
			every:   110 * time.Second,
			release: func() { released.Add(1) },
			free:    func() { freed.Add(1) },
		}
		ctx, cancel := context.WithCancel(t.Context())
		ready := make(chan struct{})
		done := make(chan struct{})
		go func() {
			tu.run(ctx, ready)
			close(done)
		}()
		check := func(when string, wantReleased, wantFreed int32) {
			t.Helper()
			synctest.Wait()
			if r, f := released.Load(), freed.Load(); r != wantReleased || f != wantFreed {
				t.Errorf("%s: released %d times, freed %d times; want %d and %d", when, r, f, wantReleased, wantFreed)
			}
		}

		time.Sleep(time.Hour)
		check("an hour without ready", 0, 0)
		close(ready)
		time.Sleep(tu.settle - time.Nanosecond)
		check("just before settle after ready", 0, 0)
		time.Sleep(time.Nanosecond)
		check("settle after ready", 1, 0)
		time.Sleep(3 * tu.every)
		check("three periods later", 1, 3)
		cancel()
		<-done
		time.Sleep(10 * tu.every)
		check("after ctx ended", 1, 3)
	})
}

// TestTunerEndsBeforeReady checks that the tuner goes away with ctx while it
// still waits for ready, without releasing anything.
func TestTunerEndsBeforeReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var called atomic.Bool
		tu := tuner{settle: time.Second, every: time.Minute, release: func() { called.Store(true) }, free: func() { called.Store(true) }}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			tu.run(ctx, make(chan struct{}))
			close(done)
		}()
		time.Sleep(time.Minute)
		cancel()
		<-done
		if called.Load() {
			t.Error("the tuner released or freed memory though ready was never closed")
		}
	})
}
