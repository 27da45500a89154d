package logfile

import (
	"testing"
	"time"
)

func TestNextCheck(t *testing.T) {
	const idle = 10 * time.Second
	const mb = 1 << 20
	tests := []struct {
		name           string
		now, last, lim int64
		interval       time.Duration
		want           time.Duration
	}{
		{"idle log: the idle period", 5 * mb, 5 * mb, 10 * mb, idle, idle},
		{"shrunk (rotated by someone else): idle", 1 * mb, 5 * mb, 10 * mb, idle, idle},
		{"first check (no interval): idle", 5 * mb, 4 * mb, 10 * mb, 0, idle},
		{"slow writer far from the limit: idle", 1 * mb, 1*mb - 100, 10 * mb, idle, idle},
		{"flood: half the time to the limit", 2 * mb, 0, 10 * mb, time.Second, 2 * time.Second},
		{"faster flood: sooner", 2 * mb, 0, 10 * mb, 100 * time.Millisecond, 200 * time.Millisecond},
		{"near the limit: the shortest wait", 10*mb - 10, 9 * mb, 10 * mb, time.Second, minCheck},
		{"at the limit: the shortest wait", 10 * mb, 9 * mb, 10 * mb, time.Second, minCheck},
		{"past the limit: the shortest wait", 12 * mb, 9 * mb, 10 * mb, time.Second, minCheck},
		{"past the limit but idle (a failed rotation): idle", 12 * mb, 12 * mb, 10 * mb, time.Second, idle},
		{"never longer than idle", 1 * mb, 1*mb - 1000, 10 * mb, time.Second, idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextCheck(tt.now, tt.last, tt.lim, tt.interval, idle); got != tt.want {
				t.Errorf("nextCheck(%d, %d, %d, %v, %v) = %v, want %v", tt.now, tt.last, tt.lim, tt.interval, idle, got, tt.want)
			}
		})
	}
}
