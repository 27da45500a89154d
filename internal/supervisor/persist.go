package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/pyvisor/pyvisor/internal/statefile"
)

// persister owns the contents of the PID state file. Programs send it their entry
// whenever it changes; it writes the whole file atomically. Writes coalesce: while
// one write runs, further updates pile up and go out together in the next, so 100
// programs starting at once cost a handful of fsyncs rather than 100.
//
// A write that fails (a full disk) is retried after saveRetryDelay until one
// succeeds, so the file catches up by itself once the disk has room again.
type persister struct {
	path    string
	dep     deployment
	log     *slog.Logger
	updates chan *persistUpdate // pointers: a queue with room for a burst stays small while idle
	done    chan struct{}
	// lastErr is the error of the last write, nil if it succeeded or none was
	// needed. Written by run only, read by close after done is closed.
	lastErr error
}

type persistUpdate struct {
	name   string
	entry  statefile.Entry
	remove bool
	// written, when set, receives the result of the first write that includes
	// this update.
	written chan error
}

func newPersister(path string, dep deployment, initial map[string]statefile.Entry, log *slog.Logger) *persister {
	p := &persister{path: path, dep: dep, log: log, updates: make(chan *persistUpdate, 256), done: make(chan struct{})}
	go p.run(maps.Clone(initial))
	return p
}

// set records a program's entry. With wait it returns once a write that
// includes the entry is done, for changes that must survive a crash right away
// (what the user asked for): the error, wrapping ErrStateNotSaved, says the
// write failed (it is retried in the background all the same).
func (p *persister) set(ctx context.Context, name string, e statefile.Entry, wait bool) error {
	u := &persistUpdate{name: name, entry: e}
	if wait {
		u.written = make(chan error, 1)
	}
	return p.send(ctx, u)
}

// remove drops a program's entry.
func (p *persister) remove(ctx context.Context, name string) {
	p.send(ctx, &persistUpdate{name: name, remove: true})
}

func (p *persister) send(ctx context.Context, u *persistUpdate) error {
	select {
	case p.updates <- u:
	case <-p.done:
		return fmt.Errorf("%w: %w", ErrStateNotSaved, ErrShutdown)
	}
	if u.written == nil {
		return nil
	}
	select {
	case err := <-u.written:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrStateNotSaved, ctx.Err())
	}
}

// close writes whatever is pending (one last try if earlier writes failed),
// stops the writer and returns the error of the last write: nil means the file
// holds every entry sent.
func (p *persister) close() error {
	close(p.updates)
	<-p.done
	return p.lastErr
}

// Bounds of the delay between tries of a failed write.
const (
	saveRetryFirst = time.Second
	saveRetryMax   = 30 * time.Second
)

// saveRetryDelay is how long to wait before the next try after failures
// failed writes in a row: 1 s, doubling, at most 30 s. It is pure.
func saveRetryDelay(failures int) time.Duration {
	d := saveRetryFirst
	for i := 1; i < failures && d < saveRetryMax; i++ {
		d *= 2
	}
	return min(d, saveRetryMax)
}

func (p *persister) run(entries map[string]statefile.Entry) {
	defer close(p.done)
	if entries == nil {
		entries = map[string]statefile.Entry{}
	}
	var (
		waiting  []chan error
		closed   bool
		pending  bool // entries changed since the last write
		failures int  // failed writes in a row: the file lags behind entries
		retry    = time.NewTimer(time.Hour)
		retryC   <-chan time.Time // retry.C while failures > 0
	)
	retry.Stop()
	defer retry.Stop()
	apply := func(u *persistUpdate, ok bool) {
		if !ok {
			closed = true
			return
		}
		pending = true
		if u.remove {
			delete(entries, u.name)
		} else {
			entries[u.name] = u.entry
		}
		if u.written != nil {
			waiting = append(waiting, u.written)
		}
	}
	for !closed {
		select {
		case u, ok := <-p.updates:
			apply(u, ok)
			// Take everything already queued into the same write.
		drain:
			for !closed {
				select {
				case u, ok := <-p.updates:
					apply(u, ok)
				default:
					break drain
				}
			}
			switch {
			case closed && !pending && failures == 0:
				continue // the file is current
			case !closed && failures > 0 && len(waiting) == 0:
				continue // the retry timer writes it, at the back-off's pace
			}
		case <-retryC:
		}
		err := statefile.Save(p.path, statefile.State{Deployment: p.dep.id, Path: p.dep.path, Programs: entries})
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrStateNotSaved, err)
		}
		p.lastErr = err
		for _, w := range waiting {
			w <- err
		}
		waiting = waiting[:0]
		switch {
		case err == nil:
			if failures > 0 {
				p.log.Info("state saved again", "state_file", p.path, "failed_tries", failures)
			}
			pending, failures, retryC = false, 0, nil
			retry.Stop()
		case closed:
			// Reported by close.
		default:
			failures++
			d := saveRetryDelay(failures)
			p.log.Error("save state", "err", err, "retry_in", d)
			retry.Reset(d)
			retryC = retry.C
		}
	}
}
