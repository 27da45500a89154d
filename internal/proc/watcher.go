package proc

// Adopt is the package's Adopt, with the exit noticed by w: it watches a process that a previous manager
// started, which is not our child, and returns an error wrapping ErrNotRunning if no process with id's PID
// and start time exists. Its Exit is never Known. On a nil Watcher, or if w cannot take the process, a
// goroutine of its own waits for the exit, as with Adopt.
func (w *Watcher) Adopt(id Identity) (*Process, error) { return adopt(w, id) }
