package config

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestScheduleErrors checks that bad schedules, time zones and instances are reported at their line with
// the parser's message.
func TestScheduleErrors(t *testing.T) {
	prog := "programs:\n  - name: a\n    script: a.py\n"
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"cron with a bad field", prog + "    schedule: '61 * * * *'\n", []wantErr{{4, "programs[0].schedule", `invalid schedule "61 * * * *": end of range (61) above maximum (59): 61`}}},
		{"six fields", prog + "    schedule: '0 30 3 * * *'\n", []wantErr{{4, "programs[0].schedule", "expected exactly 5 fields, found 6"}}},
		{"unknown descriptor", prog + "    schedule: '@fortnightly'\n", []wantErr{{4, "programs[0].schedule", "unrecognized descriptor: @fortnightly"}}},
		{"bad every", prog + "    schedule: '@every soon'\n", []wantErr{{4, "programs[0].schedule", `@every: time: invalid duration "soon"`}}},
		{"every under a second", prog + "    schedule: '@every 500ms'\n", []wantErr{{4, "programs[0].schedule", "at least 1s"}}},
		{"never due", prog + "    schedule: '0 0 30 2 *'\n", []wantErr{{4, "programs[0].schedule", "never comes due"}}},
		{"zone in the expression", prog + "    schedule: 'CRON_TZ=UTC 0 3 * * *'\n", []wantErr{{4, "programs[0].schedule", "give the time zone in timezone"}}},
		{"empty schedule", prog + "    schedule: ''\n", []wantErr{{4, "programs[0].schedule", "empty spec string"}}},
		{"unknown time zone", prog + "    schedule: '@daily'\n    timezone: Mars/Olympus\n", []wantErr{{5, "programs[0].timezone", `invalid time zone "Mars/Olympus": unknown time zone Mars/Olympus`}}},
		{"time zone alone", prog + "    timezone: UTC\n", []wantErr{{4, "programs[0].timezone", "applies to a schedule"}}},
		{"autorestart with a schedule", prog + "    autorestart: true\n    schedule: '@hourly'\n", []wantErr{{4, "programs[0].autorestart", "never restarted"}}},
		{"instances zero", prog + "    instances: 0\n", []wantErr{{4, "programs[0].instances", "0 is out of range 1-64"}}},
		{"instances too many", prog + "    instances: 65\n", []wantErr{{4, "programs[0].instances", "65 is out of range 1-64"}}},
		{"instances not a number", prog + "    instances: two\n", []wantErr{{4, "programs[0].instances", "expected an integer"}}},
		{"instance clashes with a name", prog + "    instances: 2\n  - name: a:2\n    script: b.py\n", []wantErr{{5, "programs[1].name", `duplicate name "a:2" (first defined on line 2)`}}},
		{"instance clashes with a log file", prog + "    instances: 2\n  - name: a_1\n    script: b.py\n", []wantErr{{5, "programs[1].name", `same log file name "a_1.log" as "a:1"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, err := loadYAML(t, tt.yaml)
			checkProblems(t, fmt.Sprintf("load(%q)", tt.yaml), err, path, tt.want)
		})
	}
}

// TestScheduleLoaded checks what a valid schedule becomes: a job that autorestart does not apply to.
func TestScheduleLoaded(t *testing.T) {
	c := mustLoad(t, "programs:\n  - name: r\n    script: r.py\n    schedule: '30 3 * * *'\n    timezone: Europe/Berlin\n  - name: s\n    script: s.py\n    autorestart: false\n    schedule: '@every 90s'\n")
	r, s := c.Programs[0], c.Programs[1]
	if r.Schedule != "30 3 * * *" || r.Timezone != "Europe/Berlin" || r.Autorestart {
		t.Errorf("program r: Schedule %q, Timezone %q, Autorestart %v; want \"30 3 * * *\", Europe/Berlin, false", r.Schedule, r.Timezone, r.Autorestart)
	}
	if s.Schedule != "@every 90s" || s.Timezone != "" || s.Autorestart {
		t.Errorf("program s: Schedule %q, Timezone %q, Autorestart %v; want \"@every 90s\", \"\", false", s.Schedule, s.Timezone, s.Autorestart)
	}
}

// TestInstances checks the expansion of instances: the names, PYVISOR_INSTANCE, {instance} in args and
// environment values, and copies that do not depend on the count.
func TestInstances(t *testing.T) {
	const entry = "programs:\n  - name: w\n    script: w.py\n    args: ['--port', '80{instance}']\n    environment: {SLOT: 'slot-{instance}', PYVISOR_INSTANCE: x}\n    instances: %d\n  - name: other\n    script: o.py\n"
	c := mustLoad(t, fmt.Sprintf(entry, 3))
	var names []string
	for _, p := range c.Programs {
		names = append(names, p.Name)
	}
	if want := []string{"w:1", "w:2", "w:3", "other"}; !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	w2 := c.Programs[1]
	if w2.InstanceOf != "w" || w2.Instance != 2 {
		t.Errorf("w:2: InstanceOf %q, Instance %d; want w, 2", w2.InstanceOf, w2.Instance)
	}
	if want := []string{"--port", "802"}; !slices.Equal(w2.Args, want) {
		t.Errorf("w:2: Args %q, want %q", w2.Args, want)
	}
	if want := []EnvVar{{"SLOT", "slot-2"}, {EnvInstance, "2"}}; !slices.Equal(w2.Environment, want) {
		t.Errorf("w:2: Environment %q, want %q", w2.Environment, want)
	}
	wantTmpl := InstanceTemplate{Args: []string{"--port", "80{instance}"}, Environment: []EnvVar{{"SLOT", "slot-{instance}"}}}
	if !reflect.DeepEqual(w2.Template, wantTmpl) {
		t.Errorf("w:2: Template %q, want %q", w2.Template, wantTmpl)
	}
	if got := LogFileName(w2.Name); got != "w_2.log" {
		t.Errorf("LogFileName(%q) = %q, want w_2.log", w2.Name, got)
	}
	if c.Programs[3].InstanceOf != "" || c.Programs[3].Instance != 0 {
		t.Errorf("other: InstanceOf %q, Instance %d; want none", c.Programs[3].InstanceOf, c.Programs[3].Instance)
	}
	// A reload that changes the count must find the copies that stay unchanged.
	c2 := mustLoad(t, fmt.Sprintf(entry, 2))
	a, b := c.Programs[1], c2.Programs[1]
	a.Line, b.Line = 0, 0
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("w:2 with instances 3 is %+v, with 2 it is %+v: they must be the same", a, b)
	}
}
