package proc

import (
	"os"
	"syscall"
	"testing"
)

// BenchmarkSampleGroups samples 100 groups, each a sleeping process.
func BenchmarkSampleGroups(b *testing.B) {
	pgids := make([]int, 0, 100)
	for range 100 {
		p, err := Start(Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { killGroup(b, p) })
		pgids = append(pgids, p.Identity().PID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		u, err := SampleGroups(pgids)
		if err != nil || len(u) != len(pgids) {
			b.Fatalf("SampleGroups = %d groups, %v; want %d", len(u), err, len(pgids))
		}
	}
}

// BenchmarkStart starts /bin/true and waits until it is reaped.
func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		p, err := Start(Spec{Path: "true"})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Done()
	}
}

// BenchmarkExitToDone measures the time from SIGKILL of a sleeping child to its Done being closed: signal
// delivery, exit, the pidfd wakeup through the netpoller, and reaping.
func BenchmarkExitToDone(b *testing.B) {
	for range b.N {
		b.StopTimer()
		p, err := Start(Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := syscall.Kill(p.Identity().PID, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		<-p.Done()
	}
}
