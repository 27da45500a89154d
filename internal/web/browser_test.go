package web

// Browser tests: a headless Chromium (browser_helpers_test.go) drives the real
// dashboard, served on a real port by a supervisor running real Python
// programs. They wait on conditions in the page, never on fixed sleeps.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// failNowPy fails at once, so that with max_consecutive_failures 1 its program is broken.
const failNowPy = `import sys
print("cannot reach the queue", flush=True)
sys.exit(1)
`

// overviewConfig has programs in three states: running, stopped (never
// started) and broken, under a title that would be markup as HTML.
func overviewConfig(t *testing.T) string {
	dir := writeScripts(t, map[string]string{"fail.py": failNowPy})
	return `
web_ui:
  title: "Ops <i>board</i>"
restart:
  delay_seconds: 0.1
programs:
  - name: api
    script: sleeper.py
  - name: worker
    script: sleeper.py
    args: ["--queue", "emails"]
  - name: reports
    script: sleeper.py
    enabled: false
  - name: flaky
    script: ` + scriptPath(dir, "fail.py") + `
    restart:
      max_consecutive_failures: 1
`
}

// TestBrowserOverview checks what the dashboard shows of a few programs: rows,
// badges, title and counts; accessible names; the layout on a phone; the CSP.
func TestBrowserOverview(t *testing.T) {
	d := newBrowserDashboard(t, overviewConfig(t))
	order := []string{"api", "worker", "reports", "flaky"}
	want := map[string]string{"api": "running", "worker": "running", "reports": "stopped", "flaky": "broken"}
	for name, state := range want {
		d.waitFor(t, name, state, inState(supervisor.State(state)))
	}

	t.Run("rows badges title and counts", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openDashboard(d.url, len(order))
		for _, name := range order {
			tb.waitState(name, want[name])
		}
		type rowView struct {
			Name, State, Badge, BadgeClass string
			Color                          [3]int // of the badge's background
		}
		rows := eval[[]rowView](tb, `[...document.querySelectorAll('article[data-program]')].map(a => {
			const b = a.querySelector('[data-field=state]');
			return {Name: a.querySelector('[data-field=name]').textContent, State: a.dataset.state,
				Badge: b.textContent, BadgeClass: b.className,
				Color: getComputedStyle(b).backgroundColor.match(/\d+/g).slice(0, 3).map(Number)};
		})`)
		var names []string
		for _, r := range rows {
			names = append(names, r.Name)
			if r.State != want[r.Name] || r.Badge != want[r.Name] || !strings.Contains(r.BadgeClass, want[r.Name]) {
				t.Errorf("row %q: data-state %q, badge %q (class %q); want state and badge %q",
					r.Name, r.State, r.Badge, r.BadgeClass, want[r.Name])
			}
			// Running green, broken red; a program that is only not enabled
			// needs no attention: grey.
			c := r.Color
			hue := map[string]string{"running": "green", "broken": "red", "stopped": "grey"}[r.State]
			ok := map[string]bool{
				"green": c[1] > c[0] && c[1] > c[2],
				"red":   c[0] > c[1] && c[0] > c[2],
				"grey":  max(c[0], c[1], c[2])-min(c[0], c[1], c[2]) < 40,
			}[hue]
			if !ok {
				t.Errorf("row %q (%s): badge background rgb%v; want it %s", r.Name, r.State, c, hue)
			}
		}
		if !slices.Equal(names, order) {
			t.Errorf("rows in the order %q; want the config's order %q", names, order)
		}

		title := eval[[]string](tb, `[document.querySelector('[data-field=title]').textContent, document.title,
			String(document.querySelectorAll('header i').length)]`)
		if title[0] != "Ops <i>board</i>" || title[1] != title[0] || title[2] != "0" {
			t.Errorf("header title %q, page title %q, <i> elements in the header %s; want both %q as text",
				title[0], title[1], title[2], "Ops <i>board</i>")
		}

		counts := eval[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('li[data-count]:not([data-zero])')]
			.map(li => [li.dataset.count, li.querySelector('[data-field=count]').textContent]))`)
		wantCounts := map[string]string{"running": "2", "stopped": "1", "broken": "1"}
		if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
			t.Errorf("header counts %v; want %v", counts, wantCounts)
		}
	})

	t.Run("every control has an accessible name", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openDashboard(d.url, len(order))
		controls := map[string]int{}
		var buttonNames []string
		collect := func(where string) {
			t.Helper()
			ctx, cancel := tb.within()
			defer cancel()
			tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
			if err != nil {
				t.Fatalf("Accessibility.getFullAXTree (%s): %v", where, err)
			}
			for _, n := range tree.Nodes {
				role, name := axString(n.Role), axString(n.Name)
				if n.Ignored || !slices.Contains([]string{"button", "checkbox", "searchbox", "textbox"}, role) {
					continue
				}
				controls[role]++
				if strings.TrimSpace(name) == "" {
					t.Errorf("%s: a %s (DOM node %d) has no accessible name", where, role, n.BackendDOMNodeID)
				}
				if role == "button" {
					buttonNames = append(buttonNames, name)
				}
			}
		}
		collect("dashboard")
		// The open viewer is modal, which hides the rows from the tree, and a
		// closed one is not in it at all: it is read on its own.
		tb.click("Logs of api", buttonJS("api", "logs"))
		tb.waitJS("the log viewer to open", `document.querySelector('dialog[data-modal=logs]').open`, `'closed'`)
		collect("log viewer")

		// "+ Upload Program", Test notifications, the 3 state counts, Cards and
		// Table, the search box and 4 buttons a row; then in the viewer 4 pager buttons, 2 file
		// buttons, Go to line, Search and Close, the follow and regex boxes,
		// the filter and the search box.
		if controls["button"] != 4*len(order)+16 || controls["checkbox"] != 2 || controls["searchbox"] != 3 {
			t.Errorf("the accessibility tree has controls %v; want %d buttons, 2 checkboxes and 3 searchboxes",
				controls, 4*len(order)+16)
		}
		// A row's buttons say which program they act on.
		for _, name := range order {
			for _, verb := range []string{"Start", "Stop", "Restart", "Logs"} {
				if !slices.Contains(buttonNames, verb+" "+name) {
					t.Errorf("no button named %q among %q", verb+" "+name, buttonNames)
				}
			}
		}
	})

	t.Run("no horizontal scroll at 360 px", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.do("emulate a 360x740 screen", chromedp.EmulateViewport(360, 740))
		tb.openDashboard(d.url, len(order))
		checkFits := func(where, buttons string) {
			t.Helper()
			// The viewport is 360 px less a scroll bar: clientWidth.
			w := eval[[]int](tb, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
			if w[0] > 360 || w[0] > w[1] {
				t.Errorf("%s: document scrollWidth %d, clientWidth %d; want at most 360 and no horizontal scroll", where, w[0], w[1])
			}
			// Each button shown (not those of a panel that is closed), scrolled
			// into view, is inside the screen and is what a tap on its centre hits.
			hidden := eval[[]string](tb, `[...document.querySelectorAll(`+jsString(buttons)+`)].filter(b => b.checkVisibility()).flatMap(b => {
				b.scrollIntoView({block: 'center', inline: 'nearest'});
				const r = b.getBoundingClientRect(), hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
				const ok = r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= 360 && hit && b.contains(hit);
				return ok ? [] : [(b.getAttribute('aria-label') || b.textContent) + ' at ' + JSON.stringify(r)];
			})`)
			if len(hidden) > 0 {
				t.Errorf("%s: buttons not fully visible on a 360 px screen: %q", where, hidden)
			}
		}
		if n := eval[int](tb, `document.querySelectorAll('article button').length`); n != 4*len(order) {
			t.Fatalf("the rows have %d buttons; want %d", n, 4*len(order))
		}
		checkFits("dashboard", "article button")
		tb.click("Logs of worker", buttonJS("worker", "logs"))
		tb.waitJS("the log viewer to open", `document.querySelector('dialog[data-modal=logs]').open`, `'closed'`)
		checkFits("log viewer", "dialog[open] button")
	})

	t.Run("CSP header and no CSP violations", func(t *testing.T) {
		tb := newTab(t, d.browser)
		ctx, cancel := tb.within()
		defer cancel()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(d.url))
		if err != nil {
			t.Fatalf("navigate to %s: %v", d.url, err)
		}
		var csp string
		for k, v := range resp.Headers {
			if strings.EqualFold(k, "Content-Security-Policy") {
				csp = fmt.Sprint(v)
			}
		}
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("the page's Content-Security-Policy is %q; want script-src and style-src 'self' without 'unsafe-inline' (all headers: %v)",
				csp, resp.Headers)
		}
		tb.openDashboard(d.url, len(order))
		// Use the page a little: a log page and the live tail load too.
		tb.click("Logs of api", buttonJS("api", "logs"))
		tb.click("Auto-refresh", `document.querySelector('[data-field=follow]')`)
		tb.waitJS("the live tail to start", `document.querySelector('[data-field=info]').textContent.includes('live:')`,
			`document.querySelector('[data-field=info]').textContent`)

		// Proof that violations would be seen: inline style is refused under
		// this policy, and the browser reports that on the console.
		eval[chromedp.Void](tb, `console.log('csp-probe'); `+
			`document.head.append(Object.assign(document.createElement('style'), {textContent: 'body{}'}))`)
		isCSP := func(m chromedp.ConsoleMessage) bool { return strings.Contains(m.Text, "Content Security Policy") }
		var msgs []chromedp.ConsoleMessage
		probe := -1
		waitUntil(t, "the probe's CSP violation on the console", func() bool {
			msgs = tb.consoleMessages()
			probe = slices.IndexFunc(msgs, func(m chromedp.ConsoleMessage) bool { return m.Text == "csp-probe" })
			return probe >= 0 && slices.ContainsFunc(msgs[probe:], isCSP)
		}, func() string { return fmt.Sprintf("console messages %q", msgs) })
		var bad []string
		for _, m := range msgs[:probe] {
			if isCSP(m) || m.IsException() {
				bad = append(bad, m.String())
			}
		}
		if len(bad) > 0 {
			t.Errorf("the dashboard caused CSP violations or exceptions: %q", bad)
		}
	})
}

// axString is the string value of an accessibility property ("" if none).
func axString(v *accessibility.Value) string {
	var s string
	if v != nil {
		_ = json.Unmarshal(v.Value, &s) // a value that is not a string counts as none
	}
	return s
}
