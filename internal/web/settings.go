package web

import (
	"net/http"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// newSettingsJSON converts a program's resolved definition to the API's
// shape. It is pure. The environment's values never leave it: only the names.
func newSettingsJSON(s *supervisor.Settings) api.ProgramSettings {
	spec, cmd, r := &s.Spec, &s.Command, &s.Spec.Restart
	out := api.ProgramSettings{
		Name:        spec.Name,
		Group:       spec.Group,
		Uploaded:    spec.Uploaded,
		Enabled:     spec.Enabled,
		Interpreter: cmd.Python,
		Script:      cmd.Script,
		Cwd:         cmd.Dir,
		Args:        append([]string{}, cmd.Args...),
		Environment: append([]string{}, cmd.EnvKeys...),
		Autorestart: spec.Autorestart,
		Restart: api.RestartPolicy{
			DelaySeconds:           r.Delay.Seconds(),
			MaxConsecutiveFailures: r.MaxConsecutiveFailures,
			FailureResetSeconds:    r.FailureReset.Seconds(),
			BackoffFactor:          r.BackoffFactor,
			MaxDelaySeconds:        r.MaxDelay.Seconds(),
			BrokenCooldownSeconds:  r.BrokenCooldown.Seconds(),
		},
		StopSignal:         proc.SignalName(spec.StopSignal),
		StopTimeoutSeconds: spec.StopTimeout.Seconds(),
		ExitCodes:          append([]int{}, spec.ExitCodes...),
	}
	if cmd.Venv != "" {
		out.Venv = &cmd.Venv
	}
	if cmd.User != nil {
		out.User = &cmd.User.Name
	}
	return out
}

// newUsageJSON converts a program's sampled history. It is pure.
func newUsageJSON(st *supervisor.Status, interval time.Duration) api.Usage {
	u := api.Usage{
		IntervalSeconds: interval.Seconds(),
		CPUPercent:      make([]float64, len(st.History)),
		MemoryRSSBytes:  make([]uint64, len(st.History)),
	}
	for i, v := range st.History {
		u.CPUPercent[i], u.MemoryRSSBytes[i] = round1(v.CPUPercent()), v.RSSBytes()
	}
	return u
}

func (h *handler) programSettings(w http.ResponseWriter, r *http.Request) {
	s, err := h.sup.Settings(r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSettingsJSON(&s))
}

func (h *handler) programUsage(w http.ResponseWriter, r *http.Request) {
	st, err := h.sup.Status(r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newUsageJSON(&st, h.sup.SampleInterval()))
}
