//go:build !linux

package logfile

import (
	"context"
	"errors"
)

// notifyLoop has no change notification to offer here (kqueue would need a
// descriptor per file and knows nothing of a file appearing), so Follow polls.
func notifyLoop(context.Context, string, chan<- struct{}, func()) error {
	return errors.New("file change notification not implemented on this OS")
}
