package proc

// ReleaseExecutablePages does nothing on macOS, which has no /proc/self/smaps
// to tell which mappings are safe to release; it returns 0.
func ReleaseExecutablePages() (uint64, error) { return 0, nil }
