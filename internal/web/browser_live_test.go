package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestBrowserStopStart checks that the Stop and Start buttons work and that
// the page follows state changes through the event stream, without a reload:
// its own clicks first, then changes made by another client.
func TestBrowserStopStart(t *testing.T) {
	d := newBrowserDashboard(t, `
programs:
  - name: api
    script: sleeper.py
  - name: worker
    script: sleeper.py
`)
	d.waitFor(t, "api", "running", inState(supervisor.Running))
	d.waitFor(t, "worker", "running", inState(supervisor.Running))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 2)
	tb.waitState("api", "running")
	// A reload would lose the marker; the observer records the row's
	// aria-busy values, which are too short-lived to poll.
	eval[int](tb, `window.__marker = 1; window.__busy = [];
		new MutationObserver(() => __busy.push(`+rowJS("api")+`.getAttribute('aria-busy')))
			.observe(`+rowJS("api")+`, {attributes: true, attributeFilter: ['aria-busy']}); 1`)

	// shows checks the row of api against the supervisor: badge, PID and
	// which of Start and Stop are enabled.
	shows := func(when, state string) {
		t.Helper()
		// The badge can change (from the event stream) a moment before the action's own answer ends the
		// row's busy state, which keeps both buttons disabled: wait for both.
		tb.waitJS(fmt.Sprintf("api's badge to read %s %s, and the row not busy", state, when),
			rowJS("api")+`.querySelector('[data-field=state]').textContent === `+jsString(state)+
				` && `+rowJS("api")+`.getAttribute('aria-busy') !== 'true'`, rowsStateJS)
		st, err := d.sup.Status("api")
		if err != nil || string(st.State) != state {
			t.Fatalf("%s: Status(api) = %+v, %v; want %s as the page shows", when, st, err, state)
		}
		wantPID := "—"
		if st.PID != 0 {
			wantPID = fmt.Sprint(st.PID)
		}
		got := eval[[]any](tb, `(() => { const r = `+rowJS("api")+`; return [
			r.querySelector('[data-field=pid]').textContent,
			r.querySelector('[data-action=start]').disabled, r.querySelector('[data-action=stop]').disabled,
			window.__marker]; })()`)
		want := []any{wantPID, state == "running", state == "stopped", float64(1)}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: [pid, start disabled, stop disabled, window.__marker] = %v; want %v (a changed marker means the page reloaded)",
				when, got, want)
		}
	}

	tb.click("Stop api", buttonJS("api", "stop"))
	shows("after clicking Stop", "stopped")
	tb.click("Start api", buttonJS("api", "start"))
	shows("after clicking Start", "running")
	if busy := eval[[]string](tb, `window.__busy`); strings.Join(busy, ",") != "true,false,true,false" {
		t.Errorf("api's aria-busy went through %q during Stop and Start; want true,false twice", busy)
	}

	// Another client acts; only the event stream can tell the page.
	if _, err := d.sup.Stop(t.Context(), "api"); err != nil {
		t.Fatalf("Stop(api): %v", err)
	}
	shows("after another client stopped it", "stopped")
	if _, err := d.sup.Start(t.Context(), "api"); err != nil {
		t.Fatalf("Start(api): %v", err)
	}
	shows("after another client started it", "running")
	tb.waitState("worker", "running")
}

// crashOncePy crashes with a traceback 1.5 s after its first start (it leaves
// the marker file argv[1] behind) and runs on after later starts.
const crashOncePy = `import os, sys, time
marker = sys.argv[1]
print("ingest starting", flush=True)

def fetch():
    raise RuntimeError("lost the database connection")

def load():
    fetch()

if not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(1.5)
    load()
print("ingest recovered", flush=True)
while True:
    time.sleep(3600)
`

// TestBrowserCrashShowsRestartingAndTail starts a program that crashes with a
// traceback after 1.5 s; the row goes to restarting, shows the traceback
// without the log viewer, and goes back to running after the 1 s delay.
func TestBrowserCrashShowsRestartingAndTail(t *testing.T) {
	dir := writeScripts(t, map[string]string{"crash_once.py": crashOncePy})
	d := newBrowserDashboard(t, `
restart:
  delay_seconds: 1
programs:
  - name: ingest
    script: `+scriptPath(dir, "crash_once.py")+`
    args: [`+scriptPath(dir, "crashed")+`]
    enabled: false
`)
	tb := newTab(t, d.browser)
	// A fixed width, at which the traceback's long paths wrap: the tail is
	// taller than its box, so what it scrolls to matters.
	tb.do("set the screen size", chromedp.EmulateViewport(800, 800))
	tb.openDashboard(d.url, 1)
	tb.waitState("ingest", "stopped")
	// Record every state the row shows and every tail it shows, with the
	// state at that moment, and whether the log viewer ever opened.
	eval[int](tb, `(() => {
		const row = `+rowJS("ingest")+`, pre = row.querySelector('[data-field=tail]');
		const dlg = document.querySelector('dialog[data-modal=logs]');
		window.__states = [row.dataset.state]; window.__tails = []; window.__viewer = false;
		new MutationObserver(() => {
			if (__states.at(-1) !== row.dataset.state) __states.push(row.dataset.state);
			const seen = {State: row.dataset.state, Text: pre.textContent, Overflows: pre.scrollHeight > pre.clientHeight,
				AtEnd: pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 2};
			if (!pre.hidden && pre.textContent && __tails.at(-1)?.Text !== seen.Text) __tails.push(seen);
			__viewer ||= dlg.open;
		}).observe(document.body, {attributes: true, childList: true, subtree: true, characterData: true});
		return 1;
	})()`)
	if _, err := d.sup.Start(t.Context(), "ingest"); err != nil {
		t.Fatalf("Start(ingest): %v", err)
	}
	tb.waitJS("ingest to go running, restarting, running",
		`(() => { const i = __states.indexOf('restarting'); return i > 0 && __states.indexOf('running', i) > i; })()`,
		`'states seen: ' + __states.join(', ')`)
	if states := eval[[]string](tb, `__states`); strings.Join(states, ",") != "stopped,running,restarting,running" {
		t.Errorf("ingest's row went through states %q; want stopped, running, restarting, running", states)
	}
	type tailView struct {
		State, Text      string
		Overflows, AtEnd bool // the tail is taller than its box; it is scrolled to its last line
	}
	tails := eval[[]tailView](tb, `__tails`)
	found := false
	for _, tail := range tails {
		// The traceback has more lines than the box shows: the exception, last, must be in view.
		found = found || tail == tailView{State: "restarting", Text: tail.Text, Overflows: true, AtEnd: true} &&
			strings.HasPrefix(tail.Text, "Traceback (most recent call last)") &&
			strings.HasSuffix(tail.Text, "RuntimeError: lost the database connection")
	}
	if !found {
		t.Errorf("ingest's row showed the tails %+v; want one, while restarting, with the traceback of RuntimeError, scrolled to its end", tails)
	}
	if eval[bool](tb, `__viewer`) {
		t.Errorf("the log viewer opened; the tail must show without it")
	}
	if got := eval[string](tb, rowJS("ingest")+`.querySelector('[data-field=restarts]').textContent`); got != "1" {
		t.Errorf("ingest's restarts field reads %q after one crash; want 1", got)
	}
}

// TestBrowserManyPrograms shows 200 programs and checks that an event updates
// rows in place: after a stop, every row is the same DOM node as before.
// Every fourth program runs, so that events change many rows at each sample
// without 200 Python processes slowing the machine.
func TestBrowserManyPrograms(t *testing.T) {
	const n = 200
	var yaml strings.Builder
	yaml.WriteString("sampling:\n  interval_seconds: 0.5\nprograms:\n")
	for i := range n {
		fmt.Fprintf(&yaml, "  - name: p%03d\n    script: sleeper.py\n    enabled: %t\n", i, i%4 == 0)
	}
	d := newBrowserDashboard(t, yaml.String())
	for i := 0; i < n; i += 4 {
		name := fmt.Sprintf("p%03d", i)
		d.waitFor(t, name, "running", inState(supervisor.Running))
	}
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, n)
	tb.waitJS("50 running and 150 stopped programs in the header",
		`document.querySelector('li[data-count=running] [data-field=count]')?.textContent === '50' && `+
			`document.querySelector('li[data-count=stopped] [data-field=count]')?.textContent === '150'`,
		`document.querySelector('[data-field=counts]').textContent`)

	// Tag each row and its name node, and count nodes added to or removed
	// from the list from now on.
	eval[int](tb, `(() => {
		const list = document.querySelector('[data-list=programs]');
		window.__rows = [...list.children];
		__rows.forEach((a, i) => { a.__tag = i; a.querySelector('[data-field=name]').__tag = i; });
		window.__changed = 0;
		new MutationObserver((ms) => { for (const m of ms) __changed += m.addedNodes.length + m.removedNodes.length; })
			.observe(list, {childList: true});
		window.__uptime = __rows[0].querySelector('[data-field=uptime]').textContent;
		return __rows.length;
	})()`)
	if _, err := d.sup.Stop(t.Context(), "p100"); err != nil {
		t.Fatalf("Stop(p100): %v", err)
	}
	tb.waitState("p100", "stopped")
	// Another row's uptime moves on: events after the stop reached the others too.
	tb.waitJS("p000's uptime to change after the tagging",
		`document.querySelector('[data-list=programs] [data-field=uptime]').textContent !== __uptime`, `'uptime ' + __uptime`)

	got := eval[map[string]any](tb, `(() => {
		const now = [...document.querySelector('[data-list=programs]').children];
		const replaced = now.filter((a, i) => a !== __rows[i] || a.__tag !== i ||
			a.querySelector('[data-field=name]').__tag !== i).map((a) => a.dataset.program);
		return {rows: now.length, replaced: replaced.slice(0, 10), nReplaced: replaced.length, listChanges: __changed};
	})()`)
	want := map[string]any{"rows": float64(n), "replaced": []any{}, "nReplaced": float64(0), "listChanges": float64(0)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after an event the list is %v; want %v (the same row nodes, none re-rendered)", got, want)
	}
}
