package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
)

// defaultEvents is what `pyvisor events` prints without -n, like logs.
const defaultEvents = 20

// checkEventCount says what is wrong with -n of the events command, or "".
func checkEventCount(cmd string, n int) string {
	if cmd == "events" && (n < 0 || n > api.MaxEvents) {
		return fmt.Sprintf("-n %d: give 0 to %d events", n, api.MaxEvents)
	}
	return ""
}

// events prints the last n events of the named program (every program's
// without a name), oldest first, and with follow the events that come after
// them until ctx ends.
func (x *ctl) events(ctx context.Context, names []string, n int, follow bool) int {
	name := ""
	if len(names) == 1 {
		name = names[0]
	}
	var stream interface {
		Next() (api.Event, error)
		Close() error
	}
	if follow {
		// Opened before the page is read, so that no event falls between the
		// two; one in both is printed once, by its ID.
		s, err := x.c.OpenEventStream(ctx)
		if err != nil {
			return x.fail(err)
		}
		defer s.Close()
		stream = s
	}
	// -n 0 still checks that the program exists.
	page, err := x.c.Events(ctx, name, 0, max(n, 1))
	if err != nil {
		return x.failName(ctx, name, err)
	}
	w := bufio.NewWriter(x.stdout)
	var last uint64
	if len(page.Events) > 0 {
		last = page.Events[0].ID
	}
	for i := min(n, len(page.Events)) - 1; i >= 0; i-- {
		w.WriteString(formatEvent(&page.Events[i], time.Local))
	}
	if err := w.Flush(); err != nil {
		return x.fail(fmt.Errorf("write events: %w", err))
	}
	if stream == nil {
		return exitOK
	}
	for {
		e, err := stream.Next()
		if err != nil {
			if ctx.Err() != nil {
				return exitOK // Ctrl+C is how following ends
			}
			return x.fail(err)
		}
		if e.ID <= last || (name != "" && e.Program != name) {
			continue
		}
		last = e.ID
		if _, err := fmt.Fprint(x.stdout, formatEvent(&e, time.Local)); err != nil {
			return x.fail(fmt.Errorf("write events: %w", err))
		}
	}
}

// formatEvent is one event as a line, in the manner of journalctl, in the
// time zone loc: "Dec 05 03:12:01 worker exited: exit status 1 after 3.1 s".
// Lines of a detail after its first are indented. It is pure.
func formatEvent(e *api.Event, loc *time.Location) string {
	var b strings.Builder
	b.WriteString(e.Time.In(loc).Format("Jan 02 15:04:05 "))
	if e.Program != "" {
		b.WriteString(printable(e.Program))
	} else {
		b.WriteString("pyvisor")
	}
	b.WriteString(" " + printable(e.Event))
	if e.Detail != "" {
		lines := strings.Split(strings.TrimRight(e.Detail, "\n"), "\n")
		for i, l := range lines {
			lines[i] = printable(l)
		}
		b.WriteString(": " + strings.Join(lines, "\n    "))
	}
	b.WriteByte('\n')
	return b.String()
}
