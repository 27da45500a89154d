package web

import (
	"context"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestBrowserNotify presses "Test notifications" and checks the message
// names each target's result; then a failed delivery recorded in the history
// shows in the message box.
func TestBrowserNotify(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	f := newFixture(t, reloadConfig)
	boom := "answered 500 Internal Server Error"
	f.h = NewHandler(Options{Supervisor: f.sup, TestNotify: func(context.Context) []api.NotifyResult {
		return []api.NotifyResult{{Target: "notify[0]: webhook https://h.example/…", OK: true},
			{Target: "notify[1]: command page-me", Error: &boom}}
	}})
	srv := serve(t, f.h)
	d := &browserDashboard{fixture: f, url: srv.URL + "/", browser: startBrowser(t)}
	d.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 3)

	tb.click("Test notifications", `document.querySelector('[data-action=notify-test]')`)
	tb.waitJS("the test notification message", `!`+reloadMsgJS+`.hidden && `+reloadMsgJS+`.dataset.kind === 'error'`, reloadTextJS)
	msg := eval[string](tb, reloadTextJS)
	if !strings.Contains(msg, "notify[0]: webhook https://h.example/…: sent") || !strings.Contains(msg, "notify[1]: command page-me: failed: "+boom) {
		t.Errorf("after Test notifications the message says %q; want each target's result", msg)
	}

	tb.click("dismiss", `document.querySelector('[data-field=reload-msg] [data-action=dismiss]')`)
	f.sup.RecordNotifyFailure("sleeper", "notify[0]: webhook https://h.example/…: broken notification not delivered: no answer within 10s")
	tb.waitJS("the failed delivery's message", `!`+reloadMsgJS+`.hidden && `+reloadTextJS+`.includes('no answer within 10s')`, reloadTextJS)
	for _, m := range tb.consoleMessages() {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("the dashboard caused a CSP violation or an exception: %v", m)
		}
	}
}
