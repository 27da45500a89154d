package supervisor

import (
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
)

// Settings is a program's definition as the manager resolves it, for display.
type Settings struct {
	// Spec is the program's definition, with the restart policy in force.
	Spec config.Program
	// Command is Spec resolved: interpreter, script, directory, arguments and
	// environment. Its Env holds values, which may be secrets: show EnvKeys.
	Command config.Command
}

// Settings returns a program's definition and what it resolves to.
func (s *Supervisor) Settings(name string) (Settings, error) {
	spec, err := s.Spec(name)
	if err != nil {
		return Settings{}, err
	}
	cfg := s.config()
	return Settings{Spec: spec, Command: cfg.Command(&spec, s.environ)}, nil
}

// SampleInterval is the time between two samples of History.
func (s *Supervisor) SampleInterval() time.Duration { return sampleInterval(s.config()) }

// sampleInterval is the time between two rounds of sampling.
func sampleInterval(cfg *config.Config) time.Duration {
	if cfg.Sampling.Interval <= 0 {
		return 2 * time.Second
	}
	return cfg.Sampling.Interval
}
