package proc

import (
	"os"
	"syscall"
	"testing"
)

// BenchmarkSampleGroups samples 100 groups, each a sleeping process, walking
// every group's tree each time.
func BenchmarkSampleGroups(b *testing.B) {
	pgids := sleepers(b, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		u, err := SampleGroups(pgids)
		if err != nil || len(u) != len(pgids) {
			b.Fatalf("SampleGroups = %d groups, %v; want %d", len(u), err, len(pgids))
		}
	}
}

// BenchmarkSampler samples 100 groups as the supervisor does, round after
// round with one Sampler: mostly the members it remembers.
func BenchmarkSampler(b *testing.B) {
	pgids := sleepers(b, 100)
	var s Sampler
	b.Cleanup(s.Close)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		u, err := s.Sample(pgids)
		if err != nil || len(u) != len(pgids) {
			b.Fatalf("Sample = %d groups, %v; want %d", len(u), err, len(pgids))
		}
	}
}

// sleepers starts n sleeping processes, each the leader of its group, and
// returns their PIDs.
func sleepers(b *testing.B, n int) []int {
	pgids := make([]int, 0, n)
	for range n {
		p, err := Start(Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { killGroup(b, p) })
		pgids = append(pgids, p.Identity().PID)
	}
	return pgids
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
