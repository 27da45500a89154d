package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rediscoverEvery is how often (in calls) a Sampler looks for new members of
// a group on Linux.
const rediscoverEvery = 5

// Usage is what the live members of one process group use.
type Usage struct {
	// CPU is the user plus system CPU time of the members alive now. Time used by members that have exited
	// is not included, so the sum can go down.
	CPU time.Duration
	// RSSBytes is the summed resident set size of the members; memory they share counts once per member.
	RSSBytes uint64
	// Processes is the number of live members.
	Processes int
}

// parsePS sums, per wanted process group, the output of `ps -axo pid=,pgid=,rss=,time=`: one process per
// line, RSS in KiB, CPU time as [dd-][hh:]mm:ss[.ff].
func parsePS(out []byte, want map[int]bool) (map[int]Usage, error) {
	usage := make(map[int]Usage, len(want))
	sc := bufio.NewScanner(bytes.NewReader(out))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("parse ps output line %d %q: want 4 fields", line, sc.Text())
		}
		pgid, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("parse ps output line %d: pgid: %w", line, err)
		}
		if !want[pgid] {
			continue
		}
		rssKiB, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse ps output line %d: rss: %w", line, err)
		}
		cpu, err := parseCPUTime(f[3])
		if err != nil {
			return nil, fmt.Errorf("parse ps output line %d: %w", line, err)
		}
		u := usage[pgid]
		u.CPU += cpu
		u.RSSBytes += rssKiB * 1024
		u.Processes++
		usage[pgid] = u
	}
	return usage, sc.Err()
}

// parseCPUTime parses a ps CPU time, [dd-][hh:]mm:ss[.ff]: macOS prints "12:34.56" (minutes may exceed 59),
// Linux "01:02:03" or "2-01:02:03".
func parseCPUTime(s string) (time.Duration, error) {
	bad := fmt.Errorf("parse cpu time %q: want [dd-][hh:]mm:ss[.ff]", s)
	var total time.Duration
	if d, rest, ok := strings.Cut(s, "-"); ok {
		days, err := strconv.ParseUint(d, 10, 32)
		if err != nil {
			return 0, bad
		}
		total += time.Duration(days) * 24 * time.Hour
		s = rest
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	secs, frac, _ := strings.Cut(parts[len(parts)-1], ".")
	units := []time.Duration{time.Second, time.Minute, time.Hour}
	parts[len(parts)-1] = secs
	for i := range parts {
		v, err := strconv.ParseUint(parts[len(parts)-1-i], 10, 32)
		if err != nil {
			return 0, bad
		}
		total += time.Duration(v) * units[i]
	}
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		v, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return 0, bad
		}
		for range 9 - len(frac) {
			v *= 10
		}
		total += time.Duration(v)
	}
	return total, nil
}
