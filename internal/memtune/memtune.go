// Package memtune keeps pyvisor's own memory footprint small. A manager holds
// little live data and idles most of the time, while the Go runtime's defaults
// are paced for programs that allocate all the time: this package sets the
// collector for the former and returns what the manager no longer uses.
package memtune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"
)

// gcPercent is the collector's target while GOGC is unset. The manager's live
// heap is small, so the default goal of at least 4 MB would be mostly garbage
// waiting to be collected; collecting a heap this small takes microseconds.
const gcPercent = 25

// settleAfter is how long after ready start-up is taken to be over: the
// programs' starts run in goroutines of their own and nothing marks the last
// one done, so a delay it is. Releasing too early costs only the faults that
// map back what is still in use.
const settleAfter = 5 * time.Second

// returnEvery is how often a running manager collects its garbage and returns
// its free heap pages to the system. The runtime does both by itself, but
// lazily enough that freed memory stays resident in an idle manager. The period
// is just under the 2 minutes after which the runtime forces a collection
// anyway, so this collection replaces the runtime's and the scavenging is all
// it adds.
const returnEvery = 110 * time.Second

// Start tunes the runtime for a long-running manager and returns at once. It
// sets the collector's target unless GOGC is set. Then, in a goroutine that
// ends with ctx: once ready is closed and start-up has settled, it gives back
// what starting needed and running does not (the garbage of start-up and the
// mappings of the binary's start-up code), and from then on it returns freed
// memory to the system periodically. Failures are logged to logger; they
// change nothing but the footprint.
func Start(ctx context.Context, logger *slog.Logger, ready <-chan struct{}) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	t := tuner{
		settle:  settleAfter,
		every:   returnEvery,
		release: func() { releaseStartupMemory(logger) },
		free:    debug.FreeOSMemory,
	}
	go t.run(ctx, ready)
}

// tuner decides when to release; what to do is in its functions, so a test
// can run it on a fake clock.
type tuner struct {
	settle, every time.Duration
	release       func() // once, settle after ready
	free          func() // every period after that
}

func (t tuner) run(ctx context.Context, ready <-chan struct{}) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	settled := time.NewTimer(t.settle)
	defer settled.Stop()
	select {
	case <-settled.C:
	case <-ctx.Done():
		return
	}
	t.release()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.free()
		case <-ctx.Done():
			return
		}
	}
}

// releaseStartupMemory collects the garbage of start-up, returns the freed
// heap to the system and releases the binary's mapped pages; requests then
// bring back the code that serves them.
func releaseStartupMemory(logger *slog.Logger) {
	debug.FreeOSMemory()
	released, err := releaseExecutablePages()
	if err != nil {
		logger.Warn("release start-up memory", "err", err)
		return
	}
	logger.Debug("released start-up memory", "executable_pages_bytes", released)
}
