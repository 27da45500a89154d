package supervisor

import (
	"context"
	"log/slog"
	"maps"

	"github.com/pyvisor/pyvisor/internal/statefile"
)

// persister owns the contents of the PID state file. Programs send it their entry
// whenever it changes; it writes the whole file atomically. Writes coalesce: while
// one write runs, further updates pile up and go out together in the next, so 100
// programs starting at once cost a handful of fsyncs rather than 100.
type persister struct {
	path    string
	dep     deployment
	log     *slog.Logger
	updates chan persistUpdate
	done    chan struct{}
}

type persistUpdate struct {
	name   string
	entry  statefile.Entry
	remove bool
	// written, when set, is closed once a write that includes this update is on disk.
	written chan struct{}
}

func newPersister(path string, dep deployment, initial map[string]statefile.Entry, log *slog.Logger) *persister {
	p := &persister{path: path, dep: dep, log: log, updates: make(chan persistUpdate, 256), done: make(chan struct{})}
	go p.run(maps.Clone(initial))
	return p
}

// set records a program's entry. With wait it returns once the entry is on disk,
// for changes that must survive a crash right away (a user's stop).
func (p *persister) set(ctx context.Context, name string, e statefile.Entry, wait bool) {
	u := persistUpdate{name: name, entry: e}
	if wait {
		u.written = make(chan struct{})
	}
	p.send(ctx, u)
}

// remove drops a program's entry.
func (p *persister) remove(ctx context.Context, name string) {
	p.send(ctx, persistUpdate{name: name, remove: true})
}

func (p *persister) send(ctx context.Context, u persistUpdate) {
	select {
	case p.updates <- u:
	case <-p.done:
		return
	}
	if u.written != nil {
		select {
		case <-u.written:
		case <-ctx.Done():
		case <-p.done:
		}
	}
}

// close writes whatever is pending and stops the writer.
func (p *persister) close() {
	close(p.updates)
	<-p.done
}

func (p *persister) run(entries map[string]statefile.Entry) {
	defer close(p.done)
	if entries == nil {
		entries = map[string]statefile.Entry{}
	}
	for u := range p.updates {
		var waiting []chan struct{}
		apply := func(u persistUpdate) {
			if u.remove {
				delete(entries, u.name)
			} else {
				entries[u.name] = u.entry
			}
			if u.written != nil {
				waiting = append(waiting, u.written)
			}
		}
		apply(u)
		// Take everything already queued into the same write.
	drain:
		for {
			select {
			case u, ok := <-p.updates:
				if !ok {
					break drain
				}
				apply(u)
			default:
				break drain
			}
		}
		if err := statefile.Save(p.path, statefile.State{Deployment: p.dep.id, Path: p.dep.path, Programs: entries}); err != nil {
			p.log.Error("save state", "err", err)
		}
		for _, w := range waiting {
			close(w)
		}
	}
}
