package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
)

// writeConfig writes yaml as dir's process_manager.yaml and loads it.
func writeConfig(b *testing.B, dir, yaml string) *config.Config {
	b.Helper()
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkReload100Programs reloads a configuration of 100 programs (disabled,
// so no process runs): unchanged, the cost of comparing; and with every
// program's arguments changed, which adds a request to each program.
func BenchmarkReload100Programs(b *testing.B) {
	dir := b.TempDir()
	load := func(arg string) *config.Config {
		var y strings.Builder
		y.WriteString("programs:\n")
		for i := range 100 {
			fmt.Fprintf(&y, "  - {name: p%d, script: sleeper.py, enabled: false, args: [%s], environment: [A=1]}\n", i, arg)
		}
		return writeConfig(b, dir, y.String())
	}
	cfgs := []*config.Config{load("x"), load("y")}
	sup := New(cfgs[0], Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	<-sup.Ready()
	for _, bc := range []struct {
		name string
		next func(i int) *config.Config
	}{
		{"unchanged", func(int) *config.Config { return cfgs[0] }},
		{"all changed", func(i int) *config.Config { return cfgs[(i+1)%2] }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := sup.Reload(ctx, bc.next(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if _, err := sup.Reload(ctx, cfgs[0]); err != nil { // the next case starts from cfgs[0]
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkIdleRunners runs 50 idle Python programs and reports the goroutine
// stack memory each program costs once the collector has shrunk what it can
// (stack-B/program: its runner, its share of the one exit watcher, plus any
// thread started meanwhile). ns/op is a forced collection with the programs
// in place.
func BenchmarkIdleRunners(b *testing.B) {
	const n = 50
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "idle.py"), []byte("import time\nwhile True:\n    time.sleep(3600)\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	var y strings.Builder
	y.WriteString("programs:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - {name: p%d, script: idle.py}\n", i)
	}
	cfg := writeConfig(b, dir, y.String())
	stacks := func() uint64 {
		for range 4 { // each collection halves a stack at most once
			runtime.GC()
		}
		s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := stacks()
	sup := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	b.Cleanup(func() {
		for _, st := range sup.Statuses() {
			if st.PID != 0 {
				syscall.Kill(-st.PID, syscall.SIGKILL)
			}
		}
		cancel()
		<-done
	})
	for deadline := time.Now().Add(time.Minute); ; {
		running := 0
		for _, st := range sup.Statuses() {
			if st.State == Running {
				running++
			}
		}
		if running == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d programs running after a minute", running, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := stacks()
	for b.Loop() {
		runtime.GC()
	}
	// The sampling goroutine and the persister add a little on top of the runners.
	b.ReportMetric(float64(after-before)/n, "stack-B/program")
}
