package supervisor

import (
	"slices"
	"testing"
	"time"
)

func TestActions(t *testing.T) {
	soon := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name string
		st   Status
		want []string
	}{
		{"running", Status{State: Running, PID: 10}, []string{"stop", "restart"}},
		{"stopped", Status{State: Stopped}, []string{"start", "restart"}},
		{"stopped upload", Status{State: Stopped, Uploaded: true}, []string{"start", "restart", "update", "remove"}},
		{"running upload", Status{State: Running, PID: 10, Uploaded: true}, []string{"stop", "restart"}},
		{"error", Status{State: Error}, []string{"start", "restart"}},
		{"error upload", Status{State: Error, Uploaded: true}, []string{"start", "restart", "update", "remove"}},
		{"broken, no cool-down", Status{State: Broken}, []string{"start", "restart"}},
		{"broken, cooling down", Status{State: Broken, NextStart: soon}, []string{"start", "stop", "restart"}},
		{"broken upload, leftovers still stopping", Status{State: Broken, PID: 10, Uploaded: true}, []string{"start", "restart"}},
		{"restarting", Status{State: Restarting, NextStart: soon}, []string{"start", "stop", "restart"}},
		{"waiting for a dependency", Status{State: Waiting}, []string{"stop", "restart"}},
		{"stopping", Status{State: Stopping, PID: 10}, []string{}},
		{"installing", Status{State: Installing, Uploaded: true}, []string{"stop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Actions(&tc.st); !slices.Equal(got, tc.want) {
				t.Errorf("Actions(%+v) = %q, want %q", tc.st, got, tc.want)
			}
		})
	}
}
