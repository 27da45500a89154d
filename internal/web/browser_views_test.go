package web

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// viewsConfig has programs in two groups and one without, in three states.
func viewsConfig(t *testing.T) string {
	dir := writeScripts(t, map[string]string{"fail.py": failNowPy})
	return `
sampling: {interval_seconds: 0.2}
restart: {delay_seconds: 0.1}
programs:
  - {name: api, script: sleeper.py, group: Web, environment: [API_KEY=not-shown-anywhere]}
  - {name: frontend, script: sleeper.py, group: Web}
  - {name: worker-1, script: sleeper.py, group: Workers}
  - {name: worker-2, script: sleeper.py, group: Workers, enabled: false}
  - {name: reports, script: sleeper.py, enabled: false}
  - name: flaky
    script: ` + scriptPath(dir, "fail.py") + `
    restart: {max_consecutive_failures: 1}
`
}

// tableRowsJS lists the table's shown rows and group headings, in order.
const tableRowsJS = `[...document.querySelectorAll('.ptable tbody tr')].filter(r => !r.hidden)` +
	`.map(r => r.dataset.trow || 'group:' + r.textContent).join(',')`

// TestBrowserTableView drives the table view: the remembered choice, search,
// the state filter, sorting, collapsible groups, and actions on a selection.
func TestBrowserTableView(t *testing.T) {
	d := newBrowserDashboard(t, viewsConfig(t))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 6)
	tb.waitState("flaky", "broken")
	tb.click("the Table view", `document.querySelector('[data-view=table]')`)
	tb.waitJS("the table with its group headings", tableRowsJS+` === 'group:▾ Web (2),api,frontend,group:▾ Workers (2),worker-1,worker-2,group:▾ No group (2),reports,flaky'`, tableRowsJS)
	if got := eval[string](tb, `getComputedStyle(document.querySelector('.ptable thead')).position`); got != "sticky" {
		t.Errorf("the table's header has position %q, want sticky (it stays on screen)", got)
	}
	checkColumns(t, tb)
	if eval[bool](tb, `document.querySelector('.programs').offsetParent !== null`) {
		t.Errorf("in the table view the cards are shown; want them hidden")
	}

	t.Run("the choice is remembered", func(t *testing.T) {
		again := newTab(t, d.browser)
		again.openDashboard(d.url, 6)
		again.waitJS("the table view after a reload", `document.body.dataset.view === 'table' && document.querySelector('.ptable').offsetParent !== null`, `document.body.dataset.view`)
		if n := eval[int](again, `document.querySelectorAll('article[data-program]').length`); n != 0 {
			t.Errorf("a dashboard opened in the table view built %d cards; want none until the cards are shown", n)
		}
	})

	t.Run("search as you type", func(t *testing.T) {
		tb.do("type in the search box", chromedp.SendKeys(chromedp.CSS(`[data-field=find]`), "WORK"))
		tb.waitJS("only the workers", tableRowsJS+` === 'group:▾ Workers (2),worker-1,worker-2'`, tableRowsJS)
		clearFind(tb)
		tb.waitJS("every program again", tableRowsJS+`.split(',').length === 9`, tableRowsJS)
	})

	t.Run("a state count filters", func(t *testing.T) {
		tb.click("the stopped count", `document.querySelector('[data-filter=stopped]')`)
		tb.waitJS("only the stopped programs", tableRowsJS+` === 'group:▾ Workers (1),worker-2,group:▾ No group (1),reports'`, tableRowsJS)
		if p := eval[string](tb, `document.querySelector('[data-filter=stopped]').getAttribute('aria-pressed')`); p != "true" {
			t.Errorf("the stopped count's aria-pressed = %q, want true while it filters", p)
		}
		tb.click("the stopped count again", `document.querySelector('[data-filter=stopped]')`)
		tb.waitJS("every program again", tableRowsJS+`.split(',').length === 9`, tableRowsJS)
	})

	t.Run("sort by state and back", func(t *testing.T) {
		tb.click("the State heading", `document.querySelector('[data-sort=state]')`)
		tb.waitJS("running first in each group", tableRowsJS+` === 'group:▾ Web (2),api,frontend,group:▾ Workers (2),worker-1,worker-2,group:▾ No group (2),flaky,reports'`, tableRowsJS)
		tb.click("the Name heading", `document.querySelector('[data-sort=name]')`)
		tb.click("the Name heading again", `document.querySelector('[data-sort=name]')`)
		tb.waitJS("names in descending order", tableRowsJS+` === 'group:▾ Web (2),frontend,api,group:▾ Workers (2),worker-2,worker-1,group:▾ No group (2),reports,flaky'`, tableRowsJS)
		if s := eval[string](tb, `document.querySelector('[data-sort=name]').parentNode.getAttribute('aria-sort')`); s != "descending" {
			t.Errorf("the Name heading's aria-sort = %q, want descending", s)
		}
		tb.click("the Name heading a third time", `document.querySelector('[data-sort=name]')`)
	})

	t.Run("a group collapses", func(t *testing.T) {
		tb.click("the Web heading", `document.querySelector('.ptable [data-group="Web"]')`)
		tb.waitJS("Web collapsed", tableRowsJS+`.startsWith('group:▸ Web (2),group:▾ Workers')`, tableRowsJS)
		tb.click("the Web heading again", `document.querySelector('.ptable [data-group="Web"]')`)
		tb.waitJS("Web open", tableRowsJS+`.startsWith('group:▾ Web (2),api,frontend')`, tableRowsJS)
	})

	t.Run("stop and start a selection", func(t *testing.T) {
		tb.do("search for the workers", chromedp.SendKeys(chromedp.CSS(`[data-field=find]`), "worker"))
		tb.waitJS("the workers only", tableRowsJS+` === 'group:▾ Workers (2),worker-1,worker-2'`, tableRowsJS)
		tb.click("select all shown", `document.querySelector('[data-field=select-all]')`)
		tb.waitJS("two selected", `document.querySelector('[data-field=selected]').textContent === '2 selected'`, `document.querySelector('[data-field=bulk]').textContent`)
		tb.click("Start the selection", `document.querySelector('[data-bulk=start]')`)
		res := func(name string) string {
			return `document.querySelector('[data-trow="` + name + `"] .c-res span').textContent`
		}
		tb.waitJS("each row's result", res("worker-2")+` === '✓ started' && `+res("worker-1")+`.startsWith('– not started')`,
			res("worker-1")+` + ' | ' + `+res("worker-2"))
		tb.waitState("worker-2", "running")
		tb.click("Stop the selection", `document.querySelector('[data-bulk=stop]')`)
		tb.waitJS("both stopped", res("worker-1")+` === '✓ stopped' && `+res("worker-2")+` === '✓ stopped'`,
			res("worker-1")+` + ' | ' + `+res("worker-2"))
		tb.waitState("worker-1", "stopped")
	})
	t.Run("each view is built and kept up to date while shown", func(t *testing.T) {
		checkViewSwitch(t, d)
	})
	if msgs := tb.consoleMessages(); len(msgs) > 0 {
		t.Errorf("the page logged to the console: %v", msgs)
	}
}

// checkViewSwitch opens the dashboard in the table view (remembered) with
// worker-1 stopped, and switches views while worker-1 starts and stops: the
// view shown follows each change, the hidden one is left alone, and showing
// it brings it up to date.
func checkViewSwitch(t *testing.T, d *browserDashboard) {
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 6)
	card, trow := rowJS("worker-1"), `document.querySelector('[data-trow=worker-1]')`
	tb.waitState("worker-1", "stopped")
	tb.click("the Cards view", `document.querySelector('[data-view=cards]')`)
	tb.waitJS("the cards, built now, in groups", `document.querySelectorAll('article[data-program]:not([hidden])').length === 6 && `+
		card+`.dataset.state === 'stopped' && [...document.querySelectorAll('.programs h2.grp')].map(h => h.textContent).join() === '▾ Web (2),▾ Workers (2),▾ No group (2)'`,
		rowsStateJS)
	if _, err := d.sup.Start(t.Context(), "worker-1"); err != nil {
		t.Fatal(err)
	}
	tb.waitState("worker-1", "running")
	if s := eval[string](tb, trow+`.dataset.state`); s != "stopped" {
		t.Errorf("the hidden table row of worker-1 shows %q once its card shows running; want it left alone (stopped) while hidden", s)
	}
	tb.click("the Table view", `document.querySelector('[data-view=table]')`)
	if s := eval[string](tb, trow+`.dataset.state`); s != "running" {
		t.Errorf("the table row of worker-1 shows %q right after the switch; want running", s)
	}
	if _, err := d.sup.Stop(t.Context(), "worker-1"); err != nil {
		t.Fatal(err)
	}
	tb.waitState("worker-1", "stopped")
	if s := eval[string](tb, card+`.dataset.state`); s != "running" {
		t.Errorf("the hidden card of worker-1 shows %q once its table row shows stopped; want it left alone (running) while hidden", s)
	}
	tb.click("the Cards view", `document.querySelector('[data-view=cards]')`)
	if s := eval[string](tb, card+`.dataset.state`); s != "stopped" {
		t.Errorf("the card of worker-1 shows %q right after the switch; want stopped", s)
	}
	tb.click("the Table view", `document.querySelector('[data-view=table]')`) // as the other tabs had it
}

// TestBrowserProgramPage opens a program's page from the table: its settings
// with environment names only, charts with axes, its history (or "No history"
// without the events API), its log; back and forward move between the pages.
func TestBrowserProgramPage(t *testing.T) {
	d := newBrowserDashboard(t, viewsConfig(t))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 6)
	tb.click("the Table view", `document.querySelector('[data-view=table]')`)
	tb.click("the api link", `document.querySelector('[data-trow=api] a')`)
	tb.waitJS("the page of api", `location.hash === '#/programs/api' && document.body.dataset.route === 'program' && `+
		`document.querySelector('.page h2').textContent === 'api' && document.querySelector('.page .badge').textContent === 'running'`,
		`location.hash + ' ' + document.body.dataset.route`)
	tb.waitJS("its settings", `document.querySelector('[data-field=settings]').textContent.includes('API_KEY')`, `document.querySelector('[data-field=settings]').textContent`)
	settings := eval[string](tb, `document.querySelector('[data-field=settings]').textContent`)
	for _, want := range []string{"python3", "sleeper.py", "SIGTERM"} {
		if !strings.Contains(settings, want) {
			t.Errorf("the settings read %q; want them to show %q", settings, want)
		}
	}
	if strings.Contains(eval[string](tb, `document.body.textContent`), "not-shown-anywhere") {
		t.Errorf("the page shows an environment value")
	}
	tb.waitJS("charts with a line and time labels",
		`[...document.querySelectorAll('.chart')].every(c => c.querySelector('polyline.data') && c.querySelectorAll('text.tick').length >= 6)`,
		`document.querySelector('.charts').textContent`)
	tb.waitJS("its history or No history", `document.querySelector('[data-field=events]').textContent !== ''`, `''`)
	tb.waitJS("its log", `document.querySelector('[data-field=page-log]').textContent.includes('sleeper up')`, `document.querySelector('[data-field=page-log]').textContent`)

	tb.click("the page's Logs", `document.querySelector('[data-page-action=logs]')`)
	tb.waitJS("the log viewer", `document.querySelector('[data-modal=logs]').open && document.querySelector('[data-field=lines]').textContent.includes('sleeper up')`, `''`)
	tb.do("close it", chromedp.KeyEvent("\u001b"))

	tb.do("go back", chromedp.NavigateBack())
	tb.waitJS("the list again", `document.body.dataset.route === 'list' && document.querySelector('.ptable').offsetParent !== null`, `location.hash`)
	tb.do("go forward", chromedp.NavigateForward())
	tb.waitJS("the page of api again", `document.body.dataset.route === 'program' && location.hash === '#/programs/api'`, `location.hash`)

	tb.do("open a page by its URL", chromedp.Navigate(d.url+"#/programs/"+strings.ReplaceAll("worker-2", "-", "%2D")))
	tb.waitJS("worker-2's page, stopped", `document.querySelector('.page h2').textContent === 'worker-2' && document.querySelector('.page .badge').textContent === 'stopped' && `+
		`document.querySelector('[data-page-action=stop]').disabled && !document.querySelector('[data-page-action=start]').disabled`, `document.querySelector('.page').textContent`)
	tb.click("Start on the page", `document.querySelector('[data-page-action=start]')`)
	tb.waitJS("running", `document.querySelector('.page .badge').textContent === 'running'`, `document.querySelector('.page').textContent`)
	if msgs := tb.consoleMessages(); len(msgs) > 0 {
		// A 404 of the events API before it exists is logged by the browser as a failed request, not by the page.
		for _, m := range msgs {
			if !strings.Contains(fmt.Sprint(m), "404") {
				t.Errorf("the page logged to the console: %v", m)
			}
		}
	}
}

// checkColumns checks, on a laptop and on a phone, that the table fits the
// screen and that each column's heading is above its cells: the rows are
// laid out one by one (flex), not as a table. On the phone only the
// selection, name, state and actions are shown.
func checkColumns(t *testing.T, tb *tab) {
	t.Helper()
	for _, vp := range viewports {
		tb.do("set the screen size", chromedp.EmulateViewport(vp.width, vp.height))
		type column struct {
			Class       string
			Left, Width float64
			Cells       []float64 // the left of each shown row's cell
		}
		cols := eval[[]column](tb, `[...document.querySelectorAll('.ptable thead th')].filter(th => th.offsetParent !== null).map(th => {
			const r = th.getBoundingClientRect();
			return {Class: th.className, Left: r.left, Width: r.width,
				Cells: [...document.querySelectorAll('.ptable tbody tr[data-trow]:not([hidden]) td.' + th.className)].map(td => td.getBoundingClientRect().left)};
		})`)
		var names []string
		for _, c := range cols {
			names = append(names, c.Class)
			for _, left := range c.Cells {
				if math.Abs(left-c.Left) > 0.5 || len(c.Cells) != 6 {
					t.Errorf("%s: the %s cells of the rows start at %v (%d cells), their heading at %.1f; want them in line, one per row",
						vp.name, c.Class, c.Cells, len(c.Cells), c.Left)
					break
				}
			}
		}
		want := "c-sel c-name c-state c-pid c-up c-num c-cpu c-mem c-exit c-act c-res"
		if vp.width < 600 {
			want = "c-sel c-name c-state c-act"
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s: the table shows the columns %q, want %q", vp.name, got, want)
		}
		if over := eval[bool](tb, `document.documentElement.scrollWidth > innerWidth`); over {
			t.Errorf("%s: the table is wider than the screen", vp.name)
		}
	}
	tb.do("set the screen size back", chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
}

// clearFind empties the search box, as a user deleting its text would.
func clearFind(tb *tab) {
	tb.t.Helper()
	eval[bool](tb, `(() => { const f = document.querySelector('[data-field=find]'); f.value = ''; return f.dispatchEvent(new Event('input')); })()`)
}
