package logfile

import (
	"context"
	"fmt"
)

// Follow is the package's Follow with w's shared change notification.
func (w *Watcher) Follow(ctx context.Context, path string, started func(), fn func(lines []string) error) error {
	o := defaultFollowOptions()
	o.ready, o.watcher = started, w
	return follow(ctx, path, fn, o)
}

// FollowFrom is the package's FollowFrom with w's shared change notification.
func (w *Watcher) FollowFrom(ctx context.Context, path string, offset int64, started func(), fn func(lines []string) error) error {
	if offset < 0 {
		return fmt.Errorf("follow %q from byte %d: the offset must not be negative", path, offset)
	}
	o := defaultFollowOptions()
	o.ready, o.watcher, o.from = started, w, offset
	return follow(ctx, path, fn, o)
}
