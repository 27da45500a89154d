package export

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// A schedule is read here with the parser pyvisor's scheduler uses (config.ParseSchedule), so that the
// export sees the same sets of minutes, hours and days, and the same rule for the two day fields, as the
// scheduler does; it is then written for each engine from those sets.

// starBit is robfig/cron's mark of a field written as "*" or "?" (not "*/2", a list of values): with it
// on either day field, a day must match both; without it on both, either (cron's rule).
const starBit = 1 << 63

// calendar is a cron schedule as the values it matches: bit i of a field is set when value i matches.
type calendar struct {
	minute, hour, dom, month, dow uint64
	// either is cron's rule when both day fields restrict the days: a day matching either field matches.
	// Otherwise a day must match both, and a field holding every value does not restrict.
	either bool
}

// span is the set of the values lo to hi.
func span(lo, hi int) uint64 { return (1<<(hi+1) - 1) &^ (1<<lo - 1) }

var (
	allDoms = span(1, 31)
	allDows = span(0, 6)
)

// parseSchedule reads spec as pyvisor does: a calendar, or every > 0 for "@every D".
func parseSchedule(spec string) (c calendar, every time.Duration, err error) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(strings.TrimSpace(spec))
	if err != nil {
		return calendar{}, 0, fmt.Errorf("read schedule %q: %w", spec, err)
	}
	switch s := s.(type) {
	case cron.ConstantDelaySchedule:
		return calendar{}, s.Delay, nil
	case *cron.SpecSchedule:
		return calendarOf(s), 0, nil
	}
	return calendar{}, 0, fmt.Errorf("read schedule %q: unknown kind %T", spec, s)
}

// calendarOf turns the parser's fields into a calendar whose day rule is explicit.
func calendarOf(s *cron.SpecSchedule) calendar {
	c := calendar{minute: s.Minute &^ starBit, hour: s.Hour &^ starBit, dom: s.Dom &^ starBit,
		month: s.Month &^ starBit, dow: s.Dow &^ starBit}
	star := s.Dom&starBit != 0 || s.Dow&starBit != 0
	switch {
	case star:
	case c.dom == allDoms || c.dow == allDows:
		// Either field matches every day, so every day matches.
		c.dom, c.dow = allDoms, allDows
	default:
		c.either = true
	}
	return c
}

// onCalendar writes c as systemd OnCalendar= values, in the time zone zone ("" for the host's local
// time). systemd matches a day when the weekday and the date both match, so cron's rule for two
// restricted day fields becomes two values, which systemd ORs.
func onCalendar(c calendar, zone string) []string {
	clock := fmt.Sprintf("%s:%s:00", field(c.hour, 0, 23, ".."), field(c.minute, 0, 59, ".."))
	date := func(dom uint64) string { return "*-" + field(c.month, 1, 12, "..") + "-" + field(dom, 1, 31, "..") }
	line := func(dow, dom uint64) string {
		s := date(dom) + " " + clock
		if dow != allDows {
			s = weekdays(dow) + " " + s
		}
		if zone != "" {
			s += " " + zone
		}
		return s
	}
	if c.either {
		return []string{line(allDows, c.dom), line(c.dow, allDoms)}
	}
	return []string{line(c.dow, c.dom)}
}

// nomadCron writes c as a cron expression for Nomad (hashicorp/cronexpr), which has cron's rule for the
// day fields: when both restrict the days, a day matching either matches. A field written from "*" holds
// every value, so a calendar that needs a day to match both has one field that does not restrict.
func nomadCron(c calendar) string {
	return strings.Join([]string{field(c.minute, 0, 59, "-"), field(c.hour, 0, 23, "-"), field(c.dom, 1, 31, "-"),
		field(c.month, 1, 12, "-"), field(c.dow, 0, 6, "-")}, " ")
}

// everyCron writes "@every d" as a Nomad cron expression when d divides a minute, an hour or a day:
// the runs then fall on the clock's multiples of d rather than d after the job was registered. ok is
// false for other intervals.
func everyCron(d time.Duration) (expr string, ok bool) {
	divides := func(unit, whole time.Duration) (int, bool) {
		return int(d / unit), d < whole && d%unit == 0 && whole%d == 0
	}
	if d == 24*time.Hour {
		return "0 0 * * *", true
	}
	if n, ok := divides(time.Second, time.Minute); ok {
		return fmt.Sprintf("*/%d * * * * * *", n), true // Nomad's seven fields start with the seconds
	}
	if n, ok := divides(time.Minute, time.Hour); ok {
		return fmt.Sprintf("*/%d * * * *", n), true
	}
	if n, ok := divides(time.Hour, 24*time.Hour); ok {
		return fmt.Sprintf("0 */%d * * *", n), true
	}
	return "", false
}

// field writes a set of values lo to hi: "*" for all of them, "a/s" or "a..b/s" for a progression of
// three or more, otherwise a list in which runs of three or more are "a..b". rangeSep is ".." for
// systemd, whose values are written with two digits as it writes them, or "-" for cron.
func field(set uint64, lo, hi int, rangeSep string) string {
	if set == span(lo, hi) {
		return "*"
	}
	num := "%d"
	if rangeSep == ".." {
		num = "%02d"
	}
	var v []int
	for i := lo; i <= hi; i++ {
		if set&(1<<i) != 0 {
			v = append(v, i)
		}
	}
	if n := len(v); n >= 3 {
		step := v[1] - v[0]
		regular := true
		for i := 2; i < n; i++ {
			regular = regular && v[i]-v[i-1] == step
		}
		switch {
		case regular && step == 1:
			return fmt.Sprintf(num+"%s"+num, v[0], rangeSep, v[n-1])
		case regular && v[n-1]+step > hi:
			return fmt.Sprintf(num+"/%d", v[0], step)
		case regular:
			return fmt.Sprintf(num+"%s"+num+"/%d", v[0], rangeSep, v[n-1], step)
		}
	}
	var parts []string
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, fmt.Sprintf(num+"%s"+num, v[i], rangeSep, v[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, fmt.Sprintf(num, v[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// weekdays writes a set of cron weekdays (0 is Sunday) as systemd's names, runs of three or more as
// "Mon..Fri".
func weekdays(set uint64) string {
	names := [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	var parts []string
	for i := 0; i < 7; {
		if set&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 7 && set&(1<<(j+1)) != 0 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, names[i]+".."+names[j])
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, names[k])
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
