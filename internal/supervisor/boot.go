package supervisor

import (
	"context"
	"errors"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// boot says how a program's goroutine begins: what the manager's start found
// (adopt, start, wait), or an install for a new upload.
type boot struct {
	adopted     *proc.Process     // a running process re-adopted from an earlier manager
	startedAt   time.Time         // when adopted started, as saved; zero if unknown
	desired     statefile.Desired // what the user last asked for
	start       bool              // start a new process now
	install     InstallFunc       // install first (a new upload)
	interrupted bool              // an install was under way when the last manager went down
}

// plan decides, for each of programs, whether to adopt a running process, start
// a new one or wait, from the saved state and the processes tagged as ours.
func (s *Supervisor) plan(ctx context.Context, saved statefile.State, programs []*program) map[string]boot {
	tagged, err := proc.FindTagged(envProgram, "PYVISOR_")
	if err != nil {
		s.log.Warn("look for running programs by tag", "err", err)
	}
	found := map[string][]proc.Identity{}
	for _, t := range tagged {
		if t.Env[envStateFile] == s.statePath {
			found[t.Env[envProgram]] = append(found[t.Env[envProgram]], t.Identity)
		}
	}
	for name, e := range saved.Programs {
		if _, ok := s.byName[name]; !ok && e.PID != 0 {
			s.log.Warn("program in the state file is no longer configured; its process is left alone", "program", name, "pid", e.PID)
		}
	}

	boots := map[string]boot{}
	for _, p := range programs {
		e, known := saved.Programs[p.name]
		b := boot{desired: statefile.DesiredRunning}
		if known {
			b.desired = e.Desired
		}
		if e.Installing {
			// The last manager went down during this program's install; whatever is
			// on disk may be half done, so it is not started.
			boots[p.name] = boot{desired: b.desired, interrupted: true}
			continue
		}
		// Candidates: the saved PID first, then any process tagged with this program.
		var candidates []proc.Identity
		if e.PID != 0 && e.StartTime != 0 {
			candidates = append(candidates, proc.Identity{PID: e.PID, StartTime: e.StartTime})
		} else if e.PID != 0 {
			p.log.Warn("saved PID has no start time; not adopted on its PID alone", "pid", e.PID)
		}
		for _, id := range found[p.name] {
			if len(candidates) == 0 || id != candidates[0] {
				candidates = append(candidates, id)
			}
		}
		for _, id := range candidates {
			pr, err := s.watcher.Adopt(id)
			if err != nil {
				if !errors.Is(err, proc.ErrNotRunning) {
					p.log.Warn("adopt", "pid", id.PID, "err", err)
				}
				continue
			}
			if b.adopted == nil {
				b.adopted = pr
				if id.PID == e.PID && id.StartTime == e.StartTime {
					b.startedAt = e.StartedAt
				}
				continue
			}
			// A second live copy can only come from a manager killed between starting a
			// process and saving its PID. Keep one.
			// Run waits for the stop like for the runners, so none outlives it.
			p.log.Warn("stopping a duplicate copy", "pid", id.PID, "kept", b.adopted.Identity().PID)
			s.wg.Go(func() {
				if err := pr.Stop(ctx, p.spec.StopSignal, p.spec.StopTimeout); err != nil {
					p.log.Warn("stop a duplicate copy", "pid", id.PID, "err", err)
				}
			})
		}
		// A job waits for its due time (initJob): due times missed while down are not caught up.
		b.start = b.adopted == nil && p.spec.Enabled && b.desired == statefile.DesiredRunning && p.spec.Schedule == ""
		boots[p.name] = b
	}
	return boots
}
