package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/pyvisor/pyvisor/internal/api"
)

// notApplicable fills a cell whose value does not apply (no PID when stopped).
const notApplicable = "-"

// writeStatusTable writes the programs as aligned columns NAME STATE PID
// UPTIME RESTARTS CPU MEM, one program per line, in the manager's order.
func writeStatusTable(w io.Writer, programs []api.Program) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tCPU\tMEM")
	for i := range programs {
		fmt.Fprintln(tw, strings.Join(statusRow(&programs[i]), "\t"))
	}
	return tw.Flush()
}

// statusRow is a program's cells in the table. It is pure.
func statusRow(p *api.Program) []string {
	pid, uptime, cpu, mem := notApplicable, notApplicable, notApplicable, notApplicable
	if p.PID != nil {
		// Uptime, CPU and memory are those of the running process.
		pid = strconv.Itoa(*p.PID)
		uptime = formatUptime(p.UptimeSeconds)
		if p.CPUPercent != nil { // null until the second sample
			cpu = strconv.FormatFloat(*p.CPUPercent, 'f', 1, 64) + "%"
		}
		if p.MemoryRSSBytes > 0 { // 0 until the first sample
			mem = formatBytes(p.MemoryRSSBytes)
		}
	}
	return []string{printable(p.Name), printable(p.State), pid, uptime, strconv.Itoa(p.RestartCount), cpu, mem}
}

// printable replaces control characters, which would break the columns or
// drive the terminal. The manager refuses them in names; the table does not
// rely on that.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// formatUptime gives a duration in seconds as its two largest units, as a
// person reads an uptime: 45s, 12m5s, 3h0m, 3d4h.
func formatUptime(seconds int64) string {
	if seconds < 0 {
		seconds = 0
	}
	units := []struct {
		name string
		size int64
	}{{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}
	for i, u := range units[:len(units)-1] {
		if seconds >= u.size {
			next := units[i+1]
			return fmt.Sprintf("%d%s%d%s", seconds/u.size, u.name, seconds%u.size/next.size, next.name)
		}
	}
	return fmt.Sprintf("%ds", seconds)
}

// formatBytes gives a size in binary units with one decimal: 512 B, 12.3 MiB.
func formatBytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n)/1024, 0
	// 1023.95 and above would print as "1024.0" of the smaller unit.
	for v >= 1023.95 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// actionResult says in a few words where an action left a program:
// "worker: running (pid 123)".
func actionResult(p *api.Program) string {
	s := p.Name + ": " + p.State
	if p.PID != nil {
		s += fmt.Sprintf(" (pid %d)", *p.PID)
	}
	if p.Error != nil && p.PID == nil {
		s += ": " + *p.Error
	}
	return s
}
