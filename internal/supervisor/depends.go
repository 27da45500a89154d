package supervisor

import (
	"fmt"
	"strings"
)

// depWait is a program's subscription to state changes while it waits for the programs it depends on; a
// runner has one only while it waits.
type depWait struct {
	changed <-chan struct{}
	cancel  func()
}

// c is the channel of the changes; nil (never ready) when not waiting.
func (d *depWait) c() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.changed
}

// startWhenReady starts the program if every program it depends on is up (see unmetDependencies), and
// otherwise puts it in state waiting, to start once they are: at the manager's start, on a reload and on a
// start or restart request. Restarts after a crash do not wait.
func (r *runner) startWhenReady() {
	if len(r.spec.DependsOn) == 0 {
		r.start()
		return
	}
	if r.deps == nil {
		// Subscribed before looking, so that a change between the two is not missed.
		changed, cancel := r.subscribe()
		r.deps = &depWait{changed: changed, cancel: cancel}
	}
	if unmet := r.unmetDependencies(); unmet != "" {
		if r.st.State != Waiting {
			r.log.Info("waiting for dependencies", "unmet", unmet)
		}
		r.st.State = Waiting
		r.st.Error = "waiting for " + unmet
		r.save(false)
		return
	}
	r.stopWaiting()
	r.start()
}

// dependencyChanged looks again at the dependencies of a waiting program, woken by a change of state.
func (r *runner) dependencyChanged() {
	if r.st.State != Waiting {
		r.stopWaiting()
		return
	}
	r.startWhenReady()
}

// syncWaiting ends the subscription of a program that no longer waits (a stop, a reload).
func (r *runner) syncWaiting() {
	if r.st.State != Waiting {
		r.stopWaiting()
	}
}

func (r *runner) stopWaiting() {
	if r.deps != nil {
		r.deps.cancel()
		r.deps = nil
	}
}

// unmetDependencies says which programs of depends_on are not up, with their state or health: "db
// (starting), cache (stopped)"; "" when all are. Up means running and, with a health check, healthy.
func (r *runner) unmetDependencies() string {
	var unmet []string
	for _, name := range r.spec.DependsOn {
		st, ok := r.lookupStatus(name)
		switch {
		case !ok:
			unmet = append(unmet, name+" (not configured)")
		case st.State != Running:
			unmet = append(unmet, fmt.Sprintf("%s (%s)", name, st.State))
		case st.Health != HealthNone && st.Health != HealthHealthy:
			unmet = append(unmet, fmt.Sprintf("%s (%s)", name, st.Health))
		}
	}
	return strings.Join(unmet, ", ")
}
