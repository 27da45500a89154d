package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// debianChromium is where Debian's chromium package puts its launcher.
const debianChromium = "/usr/bin/chromium"

// Browser test time limits. They are deadlines on conditions, never sleeps:
// a slow machine only makes a passing test take longer.
const (
	waitTimeout   = 20 * time.Second // for a condition in the page to hold
	actionTimeout = 30 * time.Second // for one browser command
	pollEvery     = 25 * time.Millisecond
)

// chromiumPath returns the Chromium the browser tests drive. Without one they
// skip, saying why, unless CI is set: there a missing browser fails the test,
// so that a broken CI image cannot pass by skipping.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(debianChromium); err == nil {
		return debianChromium
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "no Chromium: neither " + debianChromium + " nor chromium on PATH (Debian: apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so the browser tests must run")
	}
	t.Skip(msg + "; skipping the browser tests")
	return ""
}

// startBrowser starts a headless Chromium for t with a fresh profile in a
// temporary directory and returns its context; tabs are opened with newTab.
// Chromium runs in a process group of its own, which cleanup kills after the
// browser closed and then waits on, so no Chromium process outlives the test.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	out := &testkit.SyncBuffer{} // Chromium's output, which chromedp writes from its own goroutine
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		// Exactly these switches; chromedp adds only --user-data-dir,
		// --remote-debugging-pipe (its connection) and the first URL.
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) { cmd.SysProcAttr = chromiumProcAttr() }),
		chromedp.CombinedOutput(out),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	// The first Do starts the browser and binds its life to browser, which has
	// no deadline; commands get their own deadlines (see within).
	if err := chromedp.Do(browser); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start %s: %v\nits output:\n%s", path, err, out)
	}
	pgid := chromedp.FromContext(browser).Browser.Process().Pid
	t.Cleanup(func() {
		cancelBrowser() // closes the browser gracefully
		cancelAlloc()   // and waits for its process
		// Helpers that outlived it (a renderer, the zygote) go with the group.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill Chromium's process group %d: %v", pgid, err)
		}
		if left := waitGroupGone(pgid, 10*time.Second); len(left) > 0 {
			t.Errorf("Chromium processes %v of group %d still run 10 s after the kill", left, pgid)
		}
		if t.Failed() {
			t.Logf("Chromium's output (the tail, without D-Bus complaints):\n%s", chromiumLog(out.String()))
		}
	})
	return browser
}

// chromiumLog is the end of Chromium's output without the lines about D-Bus,
// which a container does not have and Chromium does not need.
func chromiumLog(out string) string {
	var keep []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[max(len(keep)-40, 0):], "")
}

// tab is one page of a browser started by startBrowser, with the JavaScript
// dialogs it opened (answered at once, so none blocks the page) and the
// messages of its console, for the tests to check.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	dialogs []string
	console []chromedp.ConsoleMessage
}

// newTab opens a tab in browser and starts recording its dialogs and console.
// Dialogs are dismissed: an open dialog blocks the page, so the test goes on and
// reports it.
func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	return openTab(t, browser, false)
}

// openTab is newTab; with accept, dialogs are accepted (confirm answers OK).
func openTab(t *testing.T, browser context.Context, accept bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, so that events can be subscribed
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			// An error means the tab is gone, and with it the dialog.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
		}
	})
	wg.Go(func() {
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return tb
}

// openedDialogs returns the JavaScript dialogs the page opened so far.
func (tb *tab) openedDialogs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// consoleMessages returns the console messages of the page so far, in order.
func (tb *tab) consoleMessages() []chromedp.ConsoleMessage {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), tb.console...)
}

// within returns the tab's context with the deadline of one command.
func (tb *tab) within() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, actionTimeout)
}

// do runs actions in the tab, failing the test with what on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := tb.within()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in tb's page and decodes its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := tb.within()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression cond is true in the page. On
// timeout the test fails naming what it waited for and what the expression
// show (a string) says about the page then.
func (tb *tab) waitJS(what, cond, show string) {
	tb.t.Helper()
	ctx, cancel := tb.within()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v\nthe page shows: %s", what, cond, err, eval[string](tb, show))
	}
}

// waitUntil waits until cond holds, failing the test after waitTimeout with
// what it waited for and what show says then.
func waitUntil(t *testing.T, what string, cond func() bool, show func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, show())
		}
		time.Sleep(pollEvery) // what cond reads (events gathered by another goroutine) gives no notice
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// rowJS is a JavaScript expression for the row of the program name (null if none).
func rowJS(name string) string {
	return `document.querySelector('article[data-program="' + CSS.escape(` + jsString(name) + `) + '"]')`
}

// shownRowJS is a JavaScript expression for the row of the program name in
// the view shown, its card or its table row (null if none): only the view
// shown is built and kept up to date.
func shownRowJS(name string) string {
	return `document.querySelector((document.body.dataset.view === 'table' ? '[data-trow="' : 'article[data-program="') + CSS.escape(` +
		jsString(name) + `) + '"]')`
}

// shownRowsJS selects the rows of the view shown.
const shownRowsJS = `(document.body.dataset.view === 'table' ? '[data-trow]' : 'article[data-program]')`

// rowsStateJS lists each row of the view shown as "name=state", with the
// message of a failed action when one shows, for the failure messages of waits.
const rowsStateJS = `JSON.stringify([...document.querySelectorAll(` + shownRowsJS + `)].map(a => {
	const m = a.querySelector('[data-field=action-error]');
	return (a.dataset.program || a.dataset.trow) + '=' + a.dataset.state + (m && !m.hidden ? ' (' + m.textContent + ')' : '');
}))`

// openDashboard loads the dashboard at url in tb and waits until it shows
// rows programs in the view shown, fed by the live event stream.
func (tb *tab) openDashboard(url string, rows int) {
	tb.t.Helper()
	tb.do("open the dashboard at "+url, chromedp.Navigate(url))
	tb.waitJS(fmt.Sprintf("%d program rows and a live connection", rows),
		fmt.Sprintf(`document.querySelectorAll(`+shownRowsJS+`).length === %d && `+
			`document.querySelector('[data-field=connection]').dataset.conn === 'live'`, rows),
		`document.querySelector('[data-field=connection]').dataset.conn + ' ' + `+rowsStateJS)
}

// waitState waits until the row of program name shows state.
func (tb *tab) waitState(name, state string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("program %q to show %s", name, state),
		shownRowJS(name)+`?.dataset.state === `+jsString(state), rowsStateJS)
}

// browserDashboard is a real HTTP server on 127.0.0.1 serving the handler of
// a fixture (a supervisor running real Python programs), and a browser.
type browserDashboard struct {
	*fixture
	url     string          // of the dashboard, ending in "/"
	browser context.Context // opens tabs (newTab)
}

// newBrowserDashboard runs yaml as newFixture does, serves it and starts a
// browser. Cleanup closes the browser, then the server, then the supervisor
// and its programs.
func newBrowserDashboard(t *testing.T, yaml string) *browserDashboard {
	t.Helper()
	chromiumPath(t) // skip before starting programs, not after
	f := newFixture(t, yaml)
	srv := serve(t, f.h)
	return &browserDashboard{fixture: f, url: srv.URL + "/", browser: startBrowser(t)}
}

// writeScripts writes Python programs into a new directory and returns it, so
// that a config can name them by absolute path (see scriptPath).
func writeScripts(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scriptPath is the YAML (a double-quoted string) of the script name in dir.
func scriptPath(dir, name string) string {
	return strconv.Quote(filepath.Join(dir, name))
}

// pid returns the PID of a running program, failing the test when none runs.
func (d *browserDashboard) pid(t *testing.T, name string) int {
	t.Helper()
	st, err := d.sup.Status(name)
	if err != nil || st.PID == 0 {
		t.Fatalf("Status(%q) = %+v, %v; want a running program", name, st, err)
	}
	return st.PID
}

// click clicks, with the mouse, the element the JavaScript expression elem
// gives, once it is visible.
func (tb *tab) click(what, elem string) {
	tb.t.Helper()
	tb.do("click "+what, chromedp.Click(chromedp.JSPath(elem), chromedp.NodeVisible))
}

// buttonJS is a JavaScript expression for the action button of a program's row.
func buttonJS(name, action string) string {
	return rowJS(name) + `.querySelector('[data-action=` + action + `]')`
}
