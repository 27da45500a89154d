package supervisor

import (
	"testing"
	"time"
)

func TestSaveRetryDelay(t *testing.T) {
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{
		{0, time.Second},
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{5, 16 * time.Second},
		{6, 30 * time.Second},
		{7, 30 * time.Second},
		{1000, 30 * time.Second},
		{int(^uint(0) >> 1), 30 * time.Second},
	} {
		if got := saveRetryDelay(c.failures); got != c.want {
			t.Errorf("saveRetryDelay(%d) = %v, want %v", c.failures, got, c.want)
		}
	}
}
