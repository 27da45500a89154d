//go:build !linux

package logfile

import "context"

// Watcher shares one change notification among the follows of a manager. There
// is none to share here: its follows poll, as Follow's do.
type Watcher struct{}

// NewWatcher returns a Watcher.
func NewWatcher() *Watcher { return &Watcher{} }

func (w *Watcher) notifyLoop(ctx context.Context, path string, wake chan<- struct{}, started func()) error {
	return notifyLoop(ctx, path, wake, started)
}
