package proc

import (
	"fmt"
	"os"
	"strconv"
)

// FindTagged lists the session leaders (pid == sid) whose initial environment sets key (to any value), such
// as programs started by a manager that was killed before it could record their PIDs. For each it returns the
// identity and the environment variables whose names start with prefix. The calling process itself is never
// listed; processes whose environment cannot be read (other users') are skipped.
func FindTagged(key, prefix string) ([]Tagged, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("find processes tagged %s: %w", key, err)
	}
	self := os.Getpid()
	var found []Tagged
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, ok := readStatFile(pid)
		if !ok || st.session != pid || st.state == 'Z' {
			continue
		}
		block, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // exited, or not ours to read
		}
		vars, tagged := scanEnviron(block, key, prefix)
		if !tagged {
			continue
		}
		// The PID could have been reused between reading stat and environ; then the start time changed.
		if again, ok := readStatFile(pid); !ok || again.startTime != st.startTime {
			continue
		}
		found = append(found, Tagged{Identity: Identity{PID: pid, StartTime: st.startTime}, Env: vars})
	}
	return found, nil
}

// readStatFile reads and parses /proc/<pid>/stat; ok is false if the process has gone.
func readStatFile(pid int) (statFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, false
	}
	return parseStat(b)
}
