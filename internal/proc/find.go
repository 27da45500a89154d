package proc

import (
	"bytes"
	"strings"
)

// Tagged is a session leader found by FindTagged.
type Tagged struct {
	Identity
	// Env holds the process's initial environment variables whose names start with the prefix asked for.
	Env map[string]string
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
