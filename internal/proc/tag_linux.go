package proc

import (
	"bytes"
	"os"
	"strconv"
)

// findByTag lists the live processes (zombies excluded) whose initial environment sets TagVar to tag: every
// process of one run of a program, also those that left its process group and session. It reads the
// environment of every process on the machine, so it serves stops, not sampling; processes whose
// environment cannot be read (other users') are skipped. The calling process is never listed.
func findByTag(tag string) []Identity {
	if tag == "" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(TagVar + "=" + tag)
	self := os.Getpid()
	var found []Identity
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		block, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasEntry(block, want) {
			continue
		}
		st, ok := readStatFile(pid)
		if !ok || st.state == 'Z' || st.state == 'X' {
			continue
		}
		found = append(found, Identity{PID: pid, StartTime: st.startTime})
	}
	return found
}

// hasEntry reports whether the NUL-separated environment block holds the entry exactly.
func hasEntry(block, entry []byte) bool {
	for e := range bytes.SplitSeq(block, []byte{0}) {
		if bytes.Equal(e, entry) {
			return true
		}
	}
	return false
}

// tagOf returns the value of TagVar in pid's initial environment, or "".
func tagOf(pid int) string {
	block, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	prefix := []byte(TagVar + "=")
	for e := range bytes.SplitSeq(block, []byte{0}) {
		if v, ok := bytes.CutPrefix(e, prefix); ok {
			return string(v)
		}
	}
	return ""
}
