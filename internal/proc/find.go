package proc

import (
	"bytes"
	"strings"
)

// Tagged is what a manager checks of a process it did not start before it adopts it: found by FindTagged,
// or described by Describe.
type Tagged struct {
	Identity
	// Leader is true when the process leads its own session and process group.
	Leader bool
	// UID is the process's real user ID.
	UID int
	// Argv is its command line.
	Argv []string
	// Env holds the process's initial environment variables whose names start with the prefix asked for.
	Env map[string]string

	emptyEnviron bool // the whole environment was empty (Linux: perhaps in the middle of an exec)
}

// scanEnviron reads a NUL-separated environment block (as in /proc/<pid>/environ). It reports whether the
// block sets key, and returns the variables whose names start with prefix.
func scanEnviron(block []byte, key, prefix string) (map[string]string, bool) {
	tagged := false
	vars := map[string]string{}
	for entry := range bytes.SplitSeq(block, []byte{0}) {
		name, value, ok := strings.Cut(string(entry), "=")
		if !ok {
			continue
		}
		if name == key {
			tagged = true
		}
		if strings.HasPrefix(name, prefix) {
			vars[name] = value
		}
	}
	return vars, tagged
}

// splitArgv splits a NUL-terminated argument block (as in /proc/<pid>/cmdline).
func splitArgv(block []byte) []string {
	block = bytes.TrimSuffix(block, []byte{0})
	if len(block) == 0 {
		return nil
	}
	return strings.Split(string(block), "\x00")
}
