package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNotifyLoad(t *testing.T) {
	c := mustLoad(t, `notify:
  - webhook: "https://hooks.example.com/T000/B000/XXX"
    on: [broken, crashed, broken]
    programs: ["web-*", worker]
  - command: ["/usr/local/bin/page-me", "{program}", "{event}"]
`)
	if len(c.Notify) != 2 {
		t.Fatalf("load gave %d notify entries, want 2: %+v", len(c.Notify), c.Notify)
	}
	hook, cmd := c.Notify[0], c.Notify[1]
	if hook.Webhook != "https://hooks.example.com/T000/B000/XXX" || hook.Command != nil || hook.Line != 2 {
		t.Errorf("webhook entry = %+v, want the URL, no command, line 2", hook)
	}
	if !slices.Equal(hook.On, []string{"broken", "crashed"}) || !slices.Equal(hook.Programs, []string{"web-*", "worker"}) {
		t.Errorf("webhook entry on = %q, programs = %q; want [broken crashed] (duplicate dropped), [web-* worker]", hook.On, hook.Programs)
	}
	if !slices.Equal(cmd.Command, []string{"/usr/local/bin/page-me", "{program}", "{event}"}) || cmd.Webhook != "" {
		t.Errorf("command entry = %+v, want the argv as written", cmd)
	}
	if !slices.Equal(cmd.On, NotifyEvents()) || !slices.Equal(cmd.Programs, []string{"*"}) {
		t.Errorf("command entry defaults: on = %q, programs = %q; want every event and [*]", cmd.On, cmd.Programs)
	}
	if c := mustLoad(t, "programs: []\n"); c.Notify != nil {
		t.Errorf("a file without notify gave Notify = %+v, want nil", c.Notify)
	}
}

func TestNotifyLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"not a list", "notify: {webhook: x}\n", []wantErr{{1, "notify", "expected a list"}}},
		{"no target", "notify:\n  - on: [broken]\n", []wantErr{{2, "notify[0]", "needs a webhook or a command"}}},
		{"both targets", "notify:\n  - webhook: https://h.example/x\n    command: [a]\n",
			[]wantErr{{2, "notify[0]", "both a webhook and a command"}}},
		{"ftp URL", "notify:\n  - webhook: ftp://h.example/x\n", []wantErr{{2, "notify[0].webhook", "http:// or https://"}}},
		{"URL without host", "notify:\n  - webhook: \"https:///x\"\n", []wantErr{{2, "notify[0].webhook", "no host"}}},
		{"bad URL", "notify:\n  - webhook: \"http://h.example/%zz\"\n", []wantErr{{2, "notify[0].webhook", "not a URL"}}},
		{"command a string", "notify:\n  - command: page-me\n", []wantErr{{2, "notify[0].command", "expected a list"}}},
		{"command empty", "notify:\n  - command: []\n", []wantErr{{2, "notify[0].command", "must not be empty"}}},
		{"command empty program", "notify:\n  -\n    command: ['', x]\n", []wantErr{{3, "notify[0].command[0]", "must not be empty"}}},
		{"unknown event", "notify:\n  - webhook: https://h.example/x\n\n    on: [broken, crahsed]\n",
			[]wantErr{{4, "notify[0].on[1]", `unknown event "crahsed" (events: broken, crashed, unhealthy, recovered, install_failed); did you mean "crashed"?`}}},
		{"on empty", "notify:\n  - webhook: https://h.example/x\n    on: []\n", []wantErr{{3, "notify[0].on", "must not be empty"}}},
		{"bad pattern", "notify:\n  - command: [x]\n    programs: [ok, \"web-[\"]\n", []wantErr{{3, "notify[0].programs[1]", `"web-[" is not a program name or pattern`}}},
		{"unknown key", "notify:\n  - command: [x]\n    program: [a]\n", []wantErr{{3, "notify[0].program", `did you mean "programs"?`}}},
		{"second entry", "notify:\n  - command: [x]\n  - webhook: 5\n    on: broken\n",
			[]wantErr{{3, "notify[1].webhook", "http:// or https://"}, {4, "notify[1].on", "expected a list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			if c != nil {
				t.Fatalf("load(%q) = %+v, want an error", tt.yaml, c.Notify)
			}
			checkProblems(t, fmt.Sprintf("load(%q)", tt.yaml), err, path, tt.want)
			if err != nil && !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("load(%q) error %q does not start with FILE:LINE", tt.yaml, err)
			}
		})
	}
}

func TestNotifyMatches(t *testing.T) {
	n := Notify{On: []string{NotifyBroken, NotifyRecovered}, Programs: []string{"web-*", "worker"}}
	tests := []struct {
		program, event string
		want           bool
	}{
		{"web-1", NotifyBroken, true},
		{"worker", NotifyRecovered, true},
		{"worker2", NotifyBroken, false},
		{"web-1", NotifyCrashed, false},
		{"api", NotifyBroken, false},
	}
	for _, tt := range tests {
		if got := n.Matches(tt.program, tt.event); got != tt.want {
			t.Errorf("Notify{on %q, programs %q}.Matches(%q, %q) = %t, want %t", n.On, n.Programs, tt.program, tt.event, got, tt.want)
		}
	}
}
