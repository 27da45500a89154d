//go:build !linux

package logfile

import (
	"errors"
	"os"
)

// errCollapseUnsupported says the OS cannot collapse a range of a file, so
// every rotation here is copy-then-truncate.
var errCollapseUnsupported = errors.New("collapse range not supported on this OS")

// blockSize reports that collapsing is unavailable, which makes Rotate pick
// CopyTruncate from the start.
func blockSize(*os.File) (int64, error) { return 0, errCollapseUnsupported }

func collapse(*os.File, int64) error { return errCollapseUnsupported }
