package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// benchConfig is a config with n programs using every program key.
func benchConfig(n int) string {
	var b strings.Builder
	b.WriteString("web_ui: {host: 0.0.0.0, port: 8080}\nvenv: .venv\nrestart: {delay_seconds: 1, backoff_factor: 2}\nprograms:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: worker-%d\n    script: w.py\n    args: \"--id %d --name 'worker %d'\"\n", i, i, i)
		b.WriteString("    environment: [A=1, B=2, C=3]\n    restart: {delay_seconds: 3}\n    stop_signal: INT\n    exit_codes: [0]\n")
	}
	return b.String()
}

func BenchmarkLoad100Programs(b *testing.B) {
	path := writeFile(b, b.TempDir(), "pm.yaml", benchConfig(100))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommand(b *testing.B) {
	path := writeFile(b, b.TempDir(), "pm.yaml", benchConfig(1))
	c, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	environ := os.Environ()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Command(&c.Programs[0], environ)
	}
}
