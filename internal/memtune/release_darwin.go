package memtune

// releaseExecutablePages does nothing on macOS, which has no /proc/self/smaps
// to tell which mappings are safe to release; it returns 0.
func releaseExecutablePages() (uint64, error) { return 0, nil }
