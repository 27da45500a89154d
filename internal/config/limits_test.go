package config

import (
	"fmt"
	"testing"
)

// TestLimits: the global limits apply to every program, a program's own replace them, and 0 lifts them.
func TestLimits(t *testing.T) {
	c := mustLoad(t, `memory_max_mb: 256
cpu_max_percent: 50
programs:
  - {name: inherits, script: a.py}
  - {name: own, script: a.py, memory_max_mb: 0.5e3, cpu_max_percent: 250}
  - {name: lifted, script: a.py, memory_max_mb: 0, cpu_max_percent: 0}
`)
	want := map[string]Limits{
		"inherits": {MemoryMax: 256 << 20, CPUMaxPercent: 50},
		"own":      {MemoryMax: 500 << 20, CPUMaxPercent: 250},
		"lifted":   {},
	}
	if c.Limits != want["inherits"] {
		t.Errorf("global Limits = %+v, want %+v", c.Limits, want["inherits"])
	}
	for _, p := range c.Programs {
		if p.Limits != want[p.Name] {
			t.Errorf("program %q Limits = %+v, want %+v", p.Name, p.Limits, want[p.Name])
		}
	}
	if d := mustLoad(t, "programs:\n  - {name: a, script: a.py}\n"); d.Programs[0].Limits != (Limits{}) {
		t.Errorf("default Limits = %+v, want none", d.Programs[0].Limits)
	}
}

func TestLimitErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"memory negative", "memory_max_mb: -1\n", []wantErr{{1, "memory_max_mb", "must be 0 (no limit) or between 1 and"}}},
		{"memory under a megabyte", "programs:\n  - name: a\n    script: a.py\n    memory_max_mb: 0.5\n",
			[]wantErr{{4, "programs[0].memory_max_mb", "must be 0 (no limit) or between 1 and"}}},
		{"memory not a number", "memory_max_mb: lots\n", []wantErr{{1, "memory_max_mb", `expected a number, got "lots"`}}},
		{"cpu too small", "cpu_max_percent: 0.5\n", []wantErr{{1, "cpu_max_percent", "between 1 and 100000 (100 is one core)"}}},
		{"cpu too large", "programs:\n  - name: a\n    script: a.py\n    cpu_max_percent: 1e6\n",
			[]wantErr{{4, "programs[0].cpu_max_percent", "between 1 and 100000"}}},
		{"cpu a string", "cpu_max_percent: '50%'\n", []wantErr{{1, "cpu_max_percent", "expected a number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, err := loadYAML(t, tt.yaml)
			checkProblems(t, fmt.Sprintf("load(%q)", tt.yaml), err, path, tt.want)
		})
	}
}
