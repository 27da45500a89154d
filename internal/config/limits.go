package config

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// Bounds of the limits: less than a megabyte of memory cannot run Python, and cpu.max cannot hand out
// less than 1% of a core (a quota of 1 ms per 100 ms period).
const (
	minMemoryMaxMB   = 1
	maxMemoryMaxMB   = 1 << 30 // 1 PiB
	minCPUMaxPercent = 1
	maxCPUMaxPercent = 100000 // a thousand cores
)

// limit applies key (memory_max_mb or cpu_max_percent) to l. 0 means no limit, which lets a program lift
// a global limit.
func (d *decoder) limit(l *Limits, key string, n *yaml.Node, field string) {
	v, ok := d.number(n, field)
	if !ok {
		return
	}
	switch key {
	case "memory_max_mb":
		if v != 0 && (v < minMemoryMaxMB || v > maxMemoryMaxMB) {
			d.errorf(n, field, "must be 0 (no limit) or between %d and %d, got %s", minMemoryMaxMB, maxMemoryMaxMB, deref(n).Value)
			return
		}
		l.MemoryMax = int64(math.Round(v * (1 << 20)))
	case "cpu_max_percent":
		if v != 0 && (v < minCPUMaxPercent || v > maxCPUMaxPercent) {
			d.errorf(n, field, "must be 0 (no limit) or between %d and %d (100 is one core), got %s",
				minCPUMaxPercent, maxCPUMaxPercent, deref(n).Value)
			return
		}
		l.CPUMaxPercent = v
	}
}
