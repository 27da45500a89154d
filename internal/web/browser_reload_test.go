package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// The reload button and message, as JavaScript expressions.
const (
	reloadButtonJS = `document.querySelector('[data-action=reload]')`
	reloadMsgJS    = `document.querySelector('[data-field=reload-msg]')`
	reloadTextJS   = `document.querySelector('[data-field=reload-text]').textContent`
)

// TestBrowserReload edits the configuration file and presses "Reload config":
// the message says what changed and the new program's row appears; with an
// invalid file the loader's report is shown and nothing changes. A dashboard
// whose server cannot reload shows no button.
func TestBrowserReload(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	f := newFixture(t, reloadConfig).withReload()
	srv := serve(t, f.h)
	d := &browserDashboard{fixture: f, url: srv.URL + "/", browser: startBrowser(t)}
	d.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 3)
	tb.waitJS("the reload button to show", `!`+reloadButtonJS+`.hidden`, `'hidden'`)

	t.Run("a new program appears", func(t *testing.T) {
		tb.t = t
		f.writeConfig(t, reloadConfig+"  - {name: fresh, script: sleeper.py}\n")
		tb.click("Reload config", reloadButtonJS)
		tb.waitJS("the reload message", `!`+reloadMsgJS+`.hidden && `+reloadMsgJS+`.dataset.kind === 'ok'`, reloadTextJS)
		if msg := eval[string](tb, reloadTextJS); !strings.Contains(msg, "added fresh") {
			t.Errorf("after a reload adding fresh the message says %q; want it to name the added program", msg)
		}
		tb.waitState("fresh", "running")
	})

	t.Run("an invalid file shows the loader's report", func(t *testing.T) {
		tb.t = t
		f.writeConfig(t, "web_ui: {port: 70000}\n"+reloadConfig+"  - {name: other, script: sleeper.py}\n")
		tb.click("Reload config", reloadButtonJS)
		tb.waitJS("the error message", `!`+reloadMsgJS+`.hidden && `+reloadMsgJS+`.dataset.kind === 'error'`, reloadTextJS)
		msg := eval[string](tb, reloadTextJS)
		if !strings.Contains(msg, "process_manager.yaml:1: web_ui.port: 70000 is out of range 1-65535") {
			t.Errorf("after a reload of an invalid file the message says %q; want the loader's report", msg)
		}
		shown := eval[string](tb, `(() => { const b = `+reloadMsgJS+`.getBoundingClientRect(); `+
			`return getComputedStyle(document.querySelector('[data-field=reload-text]')).whiteSpace + ' ' + (b.width > 0 && b.height > 0); })()`)
		if shown != "pre-wrap true" {
			t.Errorf("the error message's white-space and visibility: %q; want pre-wrap and a visible box", shown)
		}
		if n := eval[int](tb, `document.querySelectorAll('article[data-program]').length`); n != 4 {
			t.Errorf("after a refused reload the dashboard shows %d programs, want the 4 it had", n)
		}
		if _, err := f.sup.Status("other"); err == nil {
			t.Errorf("a refused reload added the program other")
		}
	})

	t.Run("no CSP violations or exceptions", func(t *testing.T) {
		var bad []string
		for _, m := range tb.consoleMessages() {
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				bad = append(bad, fmt.Sprint(m))
			}
		}
		if len(bad) > 0 {
			t.Errorf("the dashboard caused CSP violations or exceptions: %q", bad)
		}
	})

	t.Run("no button without reload", func(t *testing.T) {
		plain := serve(t, NewHandler(Options{Supervisor: f.sup}))
		tb2 := newTab(t, d.browser)
		tb2.openDashboard(plain.URL+"/", 4)
		if !eval[bool](tb2, reloadButtonJS+`.hidden`) {
			t.Errorf("a dashboard whose server has no Reload shows the reload button")
		}
	})
}
