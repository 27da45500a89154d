package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/config"
)

// BenchmarkReload100Programs reloads a configuration of 100 programs (disabled,
// so no process runs): unchanged, the cost of comparing; and with every
// program's arguments changed, which adds a request to each program.
func BenchmarkReload100Programs(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "process_manager.yaml")
	load := func(arg string) *config.Config {
		var y strings.Builder
		y.WriteString("programs:\n")
		for i := range 100 {
			fmt.Fprintf(&y, "  - {name: p%d, script: sleeper.py, enabled: false, args: [%s], environment: [A=1]}\n", i, arg)
		}
		if err := os.WriteFile(path, []byte(y.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		return cfg
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
