package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// newProgramJSON converts a status at time now to PROGRAM of the API. It is
// pure: every field comes from st and now.
func newProgramJSON(st *supervisor.Status, now time.Time) api.Program {
	p := api.Program{
		Name:                st.Name,
		State:               string(st.State),
		Adopted:             st.Adopted,
		UptimeSeconds:       int64(st.Uptime(now) / time.Second),
		RestartCount:        st.RestartCount,
		ConsecutiveFailures: st.ConsecutiveFailures,
		CPUHistory:          make([]float64, len(st.History)),
		MemoryRSSBytes:      st.MemoryRSS,
		Enabled:             st.Enabled,
		Uploaded:            st.Uploaded,
		Group:               st.Group,
		Script:              st.Script,
		Cwd:                 st.Cwd,
		Args:                st.Args,
	}
	if st.PID != 0 {
		p.PID = &st.PID
		if st.CPUMeasured {
			cpu := round1(st.CPUPercent)
			p.CPUPercent = &cpu
		}
	}
	if e := st.LastExit; e != nil {
		desc := e.String()
		p.ExitDescription = &desc
		switch {
		case !e.Known:
		case e.Signal != 0:
			name := e.SignalName()
			p.ExitSignal = &name
		default:
			code := e.Code
			p.ExitCode = &code
		}
	}
	if !st.NextStart.IsZero() {
		s := round1(max(st.NextStart.Sub(now).Seconds(), 0))
		p.NextStartSeconds = &s
	}
	for i, v := range st.History {
		p.CPUHistory[i] = round1(v.CPUPercent())
	}
	if p.Args == nil {
		p.Args = []string{}
	}
	if st.Health != supervisor.HealthNone {
		h := string(st.Health)
		p.Health = &h
	}
	if st.HealthDetail != "" {
		p.HealthDetail = &st.HealthDetail
	}
	if st.Error != "" {
		p.Error = &st.Error
	}
	setTimesAndActions(&p, st)
	addJob(&p, st)
	if st.InstanceOf != "" {
		p.InstanceOf, p.Instance = &st.InstanceOf, &st.Instance
	}
	return p
}

// addJob fills in the fields of a job: its schedule, next and last run.
func addJob(p *api.Program, st *supervisor.Status) {
	if st.Schedule == "" {
		return
	}
	p.Schedule = &st.Schedule
	p.SkippedRuns = st.SkippedRuns
	if !st.NextRun.IsZero() {
		next := st.NextRun.Format(time.RFC3339)
		p.NextRun = &next
	}
	if r := st.LastRun; r != nil {
		run := api.Run{
			Started:         r.Started.Format(time.RFC3339),
			Ended:           r.Ended.Format(time.RFC3339),
			ExitDescription: r.Exit.String(),
			Outcome:         string(r.Outcome),
		}
		if r.Exit.Known && r.Exit.Signal == 0 {
			code := r.Exit.Code
			run.ExitCode = &code
		}
		p.LastRun = &run
	}
}

// One decimal is all a person reads, and it keeps the events small.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// newProgramsJSON converts the statuses of every program at time now. It is
// pure, like newProgramJSON.
func newProgramsJSON(title string, reload bool, sts []supervisor.Status, now time.Time) api.ProgramList {
	out := api.ProgramList{Title: title, Programs: make([]api.Program, len(sts)), Reload: reload}
	for i := range sts {
		out.Programs[i] = newProgramJSON(&sts[i], now)
	}
	return out
}

// programs is the current list at time now, as served and streamed. GET
// /api/programs and the "programs" event (see encodePrograms) both encode it
// with json.Marshal, so they are the same bytes for the same state and time.
func (h *handler) programs(now time.Time) api.ProgramList {
	l := newProgramsJSON(h.title, h.reload != nil, h.sup.Statuses(), now)
	l.MaxZipBytes = h.uploads.MaxZipBytes
	return l
}

// encodePrograms is the data of a "programs" event, made once for every
// stream (see sharedPayload).
func (h *handler) encodePrograms(now time.Time) ([]byte, error) {
	data, err := json.Marshal(h.programs(now))
	if err != nil {
		return nil, fmt.Errorf("encode programs event: %w", err)
	}
	return data, nil
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
}

func (h *handler) listPrograms(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.programs(time.Now()))
}

func (h *handler) getProgram(w http.ResponseWriter, r *http.Request) {
	st, err := h.sup.Status(r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newProgramJSON(&st, time.Now()))
}

// maxActionBody bounds an action request's body, which is ignored: anything
// beyond a small JSON object is refused.
const maxActionBody = 4 << 10

// bodyTimeout is how long a client gets to send a request's body (uploads get
// uploadBodyTimeout).
const bodyTimeout = 10 * time.Second

// action returns the handler of POST /api/programs/{name}/<action> for the
// supervisor's method do: it answers with the program once the action has
// taken effect.
func (h *handler) action(do func(context.Context, string) (supervisor.Status, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := discardBody(w, r); err != nil {
			h.writeError(w, r, err)
			return
		}
		st, err := do(withActor(r), r.PathValue("name"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, newProgramJSON(&st, time.Now()))
	}
}

// discardBody reads and drops a request body, refusing one over maxActionBody.
func discardBody(w http.ResponseWriter, r *http.Request) error {
	tooLarge := func(err error) error {
		return fmt.Errorf("request body is larger than %d bytes: %w", maxActionBody, err)
	}
	if r.ContentLength > maxActionBody {
		return tooLarge(&http.MaxBytesError{Limit: maxActionBody})
	}
	// Read under the deadline serve set, which is lifted once read: the
	// server keeps reading in the background to notice a client that goes away,
	// and a deadline expiring there would cancel the request's context in the
	// middle of a long stop.
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxActionBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(err)
	case err != nil:
		// The deadline stays: net/http reads what is left of the body before
		// it answers.
		return fmt.Errorf("read request body: %w", err)
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	return nil
}
