//go:build !linux

package logfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// errCollapseUnsupported says the OS cannot collapse a range of a file, so
// every rotation here is copy-then-truncate.
var errCollapseUnsupported = errors.New("collapse range not supported on this OS")

// blockSize reports that collapsing is unavailable, which makes a rotation
// pick CopyTruncate from the start.
func blockSize(*os.File) (int64, error) { return 0, errCollapseUnsupported }

func collapse(*os.File, int64) error { return errCollapseUnsupported }

func writeBackFrom(*os.File, int64) {}

// copyRange writes the n bytes of src at srcOff to dst at dstOff. Without
// copy_file_range, the bytes pass through a buffer of this process.
func copyRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	got, err := io.Copy(io.NewOffsetWriter(dst, dstOff), io.NewSectionReader(src, srcOff, n))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("copied %d of %d bytes: the file shrank", got, n)
	}
	return nil
}
