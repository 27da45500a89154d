package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Schedule is a parsed `schedule` with its `timezone`: the times at which a job comes due.
type Schedule struct {
	spec cron.Schedule
	loc  *time.Location
	// Every is the interval of an "@every" schedule, whose due times follow each other at that interval
	// from whenever the schedule started, not at times of the clock; 0 for the others.
	Every time.Duration
}

// maxLookahead bounds how far ahead a due time may be: the parser gives up after five years, and an
// expression that never comes due within them (February 30) is a mistake.
const maxLookahead = 5 * 365 * 24 * time.Hour

// ParseSchedule parses a schedule as the configuration writes it: five cron fields (minute, hour, day of
// month, month, day of week), a descriptor such as @hourly, @daily, @weekly, or "@every DURATION" of at
// least a second. timezone is an IANA name such as "Europe/Berlin"; "" means the machine's local time.
// The errors carry the parser's own message.
func ParseSchedule(spec, timezone string) (*Schedule, error) {
	trimmed := strings.TrimSpace(spec)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, errors.New("give the time zone in timezone, not in the expression")
	}
	loc := time.Local
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, fmt.Errorf("time zone: %w", err)
		}
		loc = l
	}
	if rest, ok := strings.CutPrefix(trimmed, "@every "); ok {
		// Checked here: the parser rounds anything under a second up to one without a word.
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("@every: %w", err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every %s: the interval must be at least 1s", d)
		}
	}
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(trimmed)
	if err != nil {
		return nil, err
	}
	out := &Schedule{spec: s, loc: loc}
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		out.Every = every.Delay
	}
	return out, nil
}

// Next returns the first due time after t, in t's location, or the zero time when the schedule never comes
// due in the next five years. An "@every" schedule's next time is t plus the interval, to the second.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.Every > 0 {
		return s.spec.Next(t)
	}
	next := s.spec.Next(t.In(s.loc))
	if next.IsZero() {
		return next
	}
	return next.In(t.Location())
}

// schedule decodes a program's schedule and timezone, which come together: a time zone alone is a mistake,
// and an expression is checked with its time zone. autorestart is the autorestart node when the entry
// gives one.
func (d *decoder) schedule(p *Program, field string, sched, tz, autorestart *yaml.Node) {
	if sched == nil {
		if tz != nil {
			d.errorf(tz, join(field, "timezone"), "timezone applies to a schedule; this program has none")
		}
		return
	}
	spec, ok := d.str(sched, join(field, "schedule"))
	if !ok {
		return
	}
	zone := ""
	if tz != nil {
		if zone, ok = d.str(tz, join(field, "timezone")); !ok {
			return
		}
		if zone == "" {
			d.errorf(tz, join(field, "timezone"), "must not be empty; leave it out for the machine's local time")
			return
		}
		// Loaded here as well as by ParseSchedule, to report the problem at the timezone's line.
		if _, err := time.LoadLocation(zone); err != nil {
			d.errorf(tz, join(field, "timezone"), "invalid time zone %q: %v", zone, err)
			return
		}
	}
	s, err := ParseSchedule(spec, zone)
	if err != nil {
		d.errorf(sched, join(field, "schedule"), "invalid schedule %q: %v", spec, err)
		return
	}
	if now := time.Now(); s.Next(now).IsZero() || s.Next(now).Sub(now) > maxLookahead {
		d.errorf(sched, join(field, "schedule"), "schedule %q never comes due in the next five years", spec)
		return
	}
	if autorestart != nil && p.Autorestart {
		d.errorf(autorestart, join(field, "autorestart"),
			"a scheduled program is started at each due time and never restarted when it exits; remove autorestart")
	}
	p.Schedule, p.Timezone, p.Autorestart = spec, zone, false
}
