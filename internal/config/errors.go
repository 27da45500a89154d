package config

import (
	"fmt"
	"strings"
)

// Error is one problem found while loading a configuration. Load joins all of them with errors.Join.
type Error struct {
	// File is the absolute path of the file the problem is in: the config file, or an env file for a bad
	// line in it.
	File string
	// Line is the 1-based line in File; 0 when the problem has no line (the file could not be read).
	Line int
	// Field is the path of the setting, such as "web_ui.port" or "programs[2].args[0]" (list indexes count
	// from 0); "" for problems that belong to no field, such as YAML syntax errors.
	Field string
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error when the config file itself could not be read, so that
	// errors.Is(err, fs.ErrNotExist) tells a missing config file apart from a bad one; nil otherwise.
	Err error
}

// Error formats the problem as "FILE:LINE: FIELD: MESSAGE", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying read error, if any.
func (e *Error) Unwrap() error { return e.Err }

// suggest returns the known key closest to key when it is close enough to be a likely typo, else "".
func suggest(key string, known []string) string {
	best, bestDist := "", 3 // only distances 0..2 are worth suggesting
	lk := strings.ToLower(key)
	for _, k := range known {
		d := editDistance(lk, k)
		// A distance as large as the key itself means nothing of it matched: no suggestion for "x".
		if d < bestDist && d < len(lk) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of adjacent bytes each cost 1, so "scirpt" is 1 away from "script".
func editDistance(a, b string) int {
	// Keys are short; three rows of ints are plenty.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
