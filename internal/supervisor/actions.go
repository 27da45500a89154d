package supervisor

// The actions a user may ask of a program (their strings are part of the JSON API).
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
	ActionUpdate  = "update" // uploaded programs only
	ActionRemove  = "remove" // uploaded programs only
)

// Actions returns the actions that make sense for a program in st now, in
// the order above, so that clients (the dashboard) need not repeat the
// rules. It is pure.
//
// Start and restart clear broken and error; a program waiting to restart
// may be started at once. Stop applies while a process runs or a start is
// scheduled or waits for a dependency, and abandons an install. Update and remove need an uploaded
// program with no process. Nothing applies while a stop is under way: the
// request would wait for it.
func Actions(st *Status) []string {
	var out []string
	add := func(ok bool, a string) {
		if ok {
			out = append(out, a)
		}
	}
	s := st.State
	idle := (s == Stopped || s == Error || s == Broken) && st.PID == 0
	add(s == Stopped || s == Error || s == Broken || s == Restarting, ActionStart)
	add(s == Running || s == Restarting || s == Waiting || s == Installing || (s == Broken && !st.NextStart.IsZero()), ActionStop)
	add(s == Running || s == Stopped || s == Error || s == Broken || s == Restarting || s == Waiting, ActionRestart)
	add(st.Uploaded && idle, ActionUpdate)
	add(st.Uploaded && idle, ActionRemove)
	if out == nil {
		out = []string{}
	}
	return out
}
