// Package notify owns notifications: it reads the supervisor's events, turns
// them into the events users ask to be told of (broken, crashed, unhealthy,
// recovered, install_failed), folds a flapping program's repeats, and delivers
// them to the webhooks and commands of the notify list, in the background, so
// that a slow or failing target never holds up supervision.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// Defaults of Options.
const (
	DefaultWindow     = time.Minute
	DefaultTimeout    = 10 * time.Second
	DefaultFirstRetry = time.Second
	DefaultRetryFor   = 5 * time.Minute
	// maxInFlight bounds the deliveries under way; beyond it a notification is dropped (and said so),
	// which only happens when targets hang while many programs fail.
	maxInFlight = 64
	// catchUpPage is how many events one read of the history brings after falling behind.
	catchUpPage = 500
)

// Source is where the events come from and where failed deliveries are
// recorded: the supervisor.
type Source interface {
	SubscribeEvents() (events <-chan supervisor.Event, cancel func())
	History(program string, before uint64, limit int) (events []supervisor.Event, next uint64)
	RecordNotifyFailure(program, detail string)
}

// Options configure a Notifier. Zero fields take the defaults.
type Options struct {
	// Logger receives delivery failures; nil means slog.Default().
	Logger *slog.Logger
	// Host names the machine in messages; "" means os.Hostname.
	Host string
	// Window is the least time between two notifications of one program and event (DefaultWindow).
	Window time.Duration
	// Timeout bounds each webhook request and each command run (DefaultTimeout).
	Timeout time.Duration
	// FirstRetry is the wait before a webhook's second attempt, doubled at each further one (DefaultFirstRetry).
	FirstRetry time.Duration
	// RetryFor bounds the time from a webhook's first attempt to its last (DefaultRetryFor).
	RetryFor time.Duration
}

// Notifier sends notifications. Run owns what it has seen of the events; the
// configuration is replaced whole by SetConfig.
type Notifier struct {
	src  Source
	opts Options
	log  *slog.Logger

	cfg      atomic.Pointer[settings]
	changed  chan struct{} // a token when SetConfig replaced cfg, for Run
	inFlight chan struct{} // a token per delivery under way
	wg       sync.WaitGroup
}

// settings are the parts of a configuration the notifier uses.
type settings struct {
	targets []config.Notify
	rules   programRules
}

// New returns a Notifier reading src's events, with the notify list of cfg.
func New(src Source, cfg *config.Config, opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	opts.Window = cmp(opts.Window, DefaultWindow)
	opts.Timeout = cmp(opts.Timeout, DefaultTimeout)
	opts.FirstRetry = cmp(opts.FirstRetry, DefaultFirstRetry)
	opts.RetryFor = cmp(opts.RetryFor, DefaultRetryFor)
	n := &Notifier{src: src, opts: opts, log: opts.Logger, changed: make(chan struct{}, 1),
		inFlight: make(chan struct{}, maxInFlight)}
	n.SetConfig(cfg)
	return n
}

func cmp(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SetConfig makes cfg's notify list (and its programs' exit codes and
// failure-reset times) the one in force, as a reload does.
func (n *Notifier) SetConfig(cfg *config.Config) {
	s := &settings{targets: cfg.Notify}
	if len(cfg.Notify) > 0 {
		s.rules = rulesOf(cfg) // read only for a target: without one, none are kept
	}
	n.cfg.Store(s)
	select {
	case n.changed <- struct{}{}:
	default: // Run has a token already, and will read the newest settings
	}
}

// Run reads events until ctx ends, then waits for the deliveries under way,
// which end with ctx too. It subscribes to the events only while the notify
// list has a target, so that a manager without notifications holds no buffer
// of events for nobody: a reload that brings a list starts the reading, and
// one that empties it ends it. Only events after a list came are news.
func (n *Notifier) Run(ctx context.Context) {
	defer n.wg.Wait()
	for ctx.Err() == nil {
		if len(n.cfg.Load().targets) == 0 {
			select {
			case <-ctx.Done():
			case <-n.changed:
			}
			continue
		}
		n.follow(ctx)
	}
}

// follow reads events and delivers their notifications until ctx ends or the
// notify list has no target left.
func (n *Notifier) follow(ctx context.Context) {
	// The newest event before the subscription: what follows it is news.
	var last uint64
	if page, _ := n.src.History("", 0, 1); len(page) > 0 {
		last = page[0].ID
	}
	events, cancel := n.src.SubscribeEvents()
	defer func() { cancel() }()
	w, lim := newWatch(), newLimiter(n.opts.Window)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		handle := func(e *supervisor.Event) {
			if e.ID <= last {
				return // seen before falling behind, or before Run
			}
			last = e.ID
			s := n.cfg.Load()
			for _, a := range w.observe(e, &s.rules) {
				if out := lim.admit(a, time.Now()); out != nil {
					n.dispatch(ctx, s, out)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				cancel()
				events, cancel = n.src.SubscribeEvents()
				for _, missed := range n.missed(last) {
					handle(&missed)
				}
				break
			}
			handle(&e)
		case <-n.changed:
			if len(n.cfg.Load().targets) == 0 {
				return
			}
		case now := <-timer.C:
			s := n.cfg.Load()
			for _, a := range w.due(now) {
				if out := lim.admit(a, now); out != nil {
					n.dispatch(ctx, s, out)
				}
			}
			for _, out := range lim.flush(now) {
				n.dispatch(ctx, s, &out)
			}
		}
		timer.Reset(untilNext(time.Now(), w.next(), lim.next()))
	}
}

// untilNext returns the wait until the earlier of two times (zero ones are
// none); an hour when there is none, as the timer must be set to something.
func untilNext(now time.Time, a, b time.Time) time.Duration {
	t := a
	if t.IsZero() || (!b.IsZero() && b.Before(t)) {
		t = b
	}
	if t.IsZero() {
		return time.Hour
	}
	return max(t.Sub(now), 0)
}

// missed returns the events after ID last from the history, oldest first:
// those a reader that fell behind did not get.
func (n *Notifier) missed(last uint64) []supervisor.Event {
	var out []supervisor.Event
	for before := uint64(0); ; {
		page, next := n.src.History("", before, catchUpPage)
		done := next == 0
		for _, e := range page {
			if e.ID <= last {
				done = true
				break
			}
			out = append(out, e)
		}
		if done {
			break
		}
		before = next
	}
	slices.Reverse(out)
	n.log.Warn("notifications fell behind the events; caught up from the history", "events", len(out))
	return out
}

// dispatch starts the delivery of out to each target it is for.
func (n *Notifier) dispatch(ctx context.Context, s *settings, out *outgoing) {
	msg := n.message(out)
	for i := range s.targets {
		t := &s.targets[i]
		if !s.rules.matches(t, out.Program, out.Event) {
			continue
		}
		select {
		case n.inFlight <- struct{}{}:
		default:
			n.failed(msg, t, i, fmt.Errorf("%d deliveries are already under way; dropped", maxInFlight))
			continue
		}
		n.wg.Go(func() {
			defer func() { <-n.inFlight }()
			if err := n.deliver(ctx, t, msg, true); err != nil && ctx.Err() == nil {
				n.failed(msg, t, i, err)
			}
		})
	}
}

// failed logs a failed delivery and records it in the history, where the
// dashboard sees it.
func (n *Notifier) failed(msg *Message, t *config.Notify, i int, err error) {
	target := describe(t, i)
	n.log.Error("notification not delivered", "target", target, "program", msg.Program, "event", msg.Event, "err", err)
	n.src.RecordNotifyFailure(msg.Program, fmt.Sprintf("%s: %s notification not delivered: %v", target, msg.Event, err))
}

// Result is the outcome of a test notification through one target.
type Result struct {
	// Target describes it without its secrets: "notify[0]: webhook https://hooks.example.com/…".
	Target string
	// Err is why it failed; nil when it was delivered.
	Err error
}

// Test sends a test notification through every target at once, each tried
// once, and returns each outcome in the order of the notify list. Failures
// are not recorded in the history: the caller shows them.
func (n *Notifier) Test(ctx context.Context) []Result {
	s := n.cfg.Load()
	msg := n.message(&outgoing{alert: alert{Event: "test", Time: time.Now(),
		Detail: "a test notification, to check the setup"}})
	out := make([]Result, len(s.targets))
	var wg sync.WaitGroup
	for i := range s.targets {
		t := &s.targets[i]
		out[i].Target = describe(t, i)
		wg.Go(func() { out[i].Err = n.deliver(ctx, t, msg, false) })
	}
	wg.Wait()
	return out
}
