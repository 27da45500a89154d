package proc

// Watcher notices the exits of many processes with one goroutine on Linux. macOS has no pidfd, and its
// kqueue EVFILT_PROC cannot be waited on through the Go netpoller, so there a Watcher does nothing: each
// child is reaped by a goroutine of its own and each adopted process is polled, as without a Watcher. The
// methods of a nil *Watcher are safe.
type Watcher struct{}

// NewWatcher returns a Watcher that holds nothing on macOS.
func NewWatcher() (*Watcher, error) { return &Watcher{}, nil }

// Close releases what the Watcher holds: nothing on macOS.
func (w *Watcher) Close() error { return nil }
