package web

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// newConfirmingTab is newTab for a page whose JavaScript dialogs are
// accepted (confirm answers OK) instead of dismissed.
func newConfirmingTab(t *testing.T, d *browserDashboard) *tab {
	t.Helper()
	return openTab(t, d.browser, true)
}

// The upload dialog's parts, as JavaScript expressions.
const (
	uploadDialogJS = `document.querySelector('dialog[data-modal=upload]')`
	uploadErrorJS  = `document.querySelector('[data-field=upload-error]')`
)

// TestBrowserUpload uploads a program through the dashboard's dialog: a
// refused upload shows the server's message in the dialog; an accepted one
// closes it, and the new row goes from a purple installing to running. Its log
// holds the install and the program's output; Update opens the dialog filled
// in; Remove, once confirmed, deletes the program and its files.
func TestBrowserUpload(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	srv := serve(t, f.h)
	d := &browserDashboard{fixture: f, url: srv.URL + "/", browser: startBrowser(t)}

	// A requirement (a wheel shipped in the ZIP) makes the install last long
	// enough to be seen.
	zipPath := filepath.Join(t.TempDir(), "web app.zip")
	data := zipOf(t, zipEntry{name: "web/app.py", body: demoPy},
		zipEntry{name: "web/requirements.txt", body: "./wheels/demo-0.1-py3-none-any.whl\n"},
		zipEntry{name: "web/wheels/demo-0.1-py3-none-any.whl", body: string(testkit.WriteDemoWheel(t, t.TempDir()))})
	if err := os.WriteFile(zipPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	const name = "web app"
	tb := newConfirmingTab(t, d)
	tb.openDashboard(d.url, 1)
	// Record every state the new row shows, with its badge's colour.
	eval[chromedp.Void](tb, `window.__seen = [];
		new MutationObserver(() => {
			const r = `+rowJS(name)+`;
			if (!r) return;
			const s = r.dataset.state + ' ' + getComputedStyle(r.querySelector('[data-field=state]')).backgroundColor;
			if (window.__seen.at(-1) !== s) window.__seen.push(s);
		}).observe(document.querySelector('[data-list=programs]'), {subtree: true, childList: true, attributes: true})`)

	tb.click("+ Upload Program", `document.querySelector('[data-action=upload]')`)
	tb.waitJS("the upload dialog to open", uploadDialogJS+`.open`, `'closed'`)
	tb.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS(`[data-field=upload-name]`), "sleeper"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=upload-script]`), "app.py"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=upload-args]`), "--port, 8080"),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-field=upload-file]`), []string{zipPath}))

	t.Run("refused upload shows the server's message", func(t *testing.T) {
		tb.t = t
		tb.click("Upload", uploadDialogJS+`.querySelector('button[type=submit]')`)
		tb.waitJS("the error in the dialog", `!`+uploadErrorJS+`.hidden`, uploadErrorJS+`.textContent`)
		msg := eval[string](tb, uploadErrorJS+`.textContent`)
		if !strings.Contains(msg, "exists") || !eval[bool](tb, uploadDialogJS+`.open`) {
			t.Errorf("after uploading under a taken name the dialog shows %q (open: %v); want the 409's message, still open",
				msg, eval[bool](tb, uploadDialogJS+`.open`))
		}
		tb.waitJS("the submit button to be enabled again", `!`+uploadDialogJS+`.querySelector('button[type=submit]').disabled`, `'disabled'`)
	})

	t.Run("upload installs then runs", func(t *testing.T) {
		tb.t = t
		tb.do("rename", chromedp.SetValue(chromedp.CSS(`[data-field=upload-name]`), name))
		tb.click("Upload", uploadDialogJS+`.querySelector('button[type=submit]')`)
		tb.waitJS("the upload dialog to close", `!`+uploadDialogJS+`.open`, uploadErrorJS+`.textContent`)
		// Its install log opens, followed live.
		tb.waitJS("the install log to open", dialogJS+`.open && `+infoJS+`.includes('live:')`, infoJS)
		if got := eval[[]any](tb, `[document.querySelector('[data-field=logs-title]').textContent, document.querySelector('[data-field=follow]').checked]`); fmt.Sprint(got) != fmt.Sprint([]any{"Logs: " + name, true}) {
			t.Errorf("after the upload the viewer shows [title, following] %v; want [%q true]", got, "Logs: "+name)
		}
		tb.waitState(name, "running")
		seen := eval[[]string](tb, `window.__seen`)
		purple := "installing rgb(123, 63, 184)"
		if len(seen) < 2 || seen[0] != purple || !strings.HasPrefix(seen[len(seen)-1], "running ") {
			t.Errorf("the row showed %q; want %q first and running last", seen, purple)
		}
	})

	t.Run("its log holds the install and the output", func(t *testing.T) {
		tb.t = t
		// The viewer shows the log as it is when opened; on a busy machine the
		// program may not have printed yet when its row says running.
		text := linesJS + `.map(d => d.textContent).join('\n')`
		tb.waitJS("the program's output in the viewer", text+`.includes('demo says:')`, text)
		got := eval[string](tb, text)
		if !inOrder(got, "===== pyvisor: installing", "[2/2] installing requirements", "Successfully installed demo-0.1",
			"installation finished successfully", "demo says: greetings from the demo wheel") {
			t.Errorf("the log viewer shows:\n%s\nwant the install's banners and pip's output, then the program's", got)
		}
		tb.click("close the viewer", dialogJS+`.querySelector('[data-action=close]')`)
	})

	t.Run("Update and Remove need a stop", func(t *testing.T) {
		tb.t = t
		disabled := `[` + buttonJS(name, "update") + `.getAttribute('aria-disabled') === 'true' || ` + buttonJS(name, "update") + `.disabled, ` +
			buttonJS(name, "remove") + `.getAttribute('aria-disabled') === 'true' || ` + buttonJS(name, "remove") + `.disabled]`
		if got := eval[[]bool](tb, disabled); !slices.Equal(got, []bool{true, true}) {
			t.Errorf("while running, [Update, Remove] disabled = %v; want both disabled", got)
		}
		// They say why, on hover and to a keyboard: focusable, with a title.
		for _, a := range []string{"update", "remove"} {
			b := buttonJS(name, a)
			got := eval[[]any](tb, `(() => { const b = `+b+`; b.focus(); return [document.activeElement === b, b.title]; })()`)
			if want := []any{true, "Stop " + name + " first to " + a + " it"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("while running, %s [focusable, title] = %v; want %v", a, got, want)
			}
			tb.click(a+" while running", b)
		}
		if tb.openedDialogs() != nil || eval[bool](tb, uploadDialogJS+`.open`) {
			t.Errorf("a click on Update or Remove while running did something: dialogs %q", tb.openedDialogs())
		}
		tb.click("Stop "+name, buttonJS(name, "stop"))
		tb.waitState(name, "stopped")
		tb.waitJS("Update and Remove to be enabled", `!(`+disabled+`).includes(true)`, disabled+`.join()`)
		if n := eval[int](tb, buttonJS("sleeper", "logs")+`.parentNode.querySelectorAll('[data-action=update], [data-action=remove]').length`); n != 0 {
			t.Errorf("the config program sleeper has %d Update/Remove buttons; want none", n)
		}
	})

	t.Run("Update opens the dialog filled in", func(t *testing.T) {
		tb.t = t
		tb.click("Update "+name, buttonJS(name, "update"))
		tb.waitJS("the dialog in update mode", uploadDialogJS+`.open`, `'closed'`)
		type form struct {
			Title, Name, Script, Args string
			ReadOnly, Autostart       bool
		}
		got := eval[form](tb, `(() => { const v = (f) => document.querySelector('[data-field=upload-' + f + ']');
			return {Title: v('title').textContent, Name: v('name').value, ReadOnly: v('name').readOnly,
				Script: v('script').value, Args: v('args').value, Autostart: v('autostart').checked}; })()`)
		want := form{Title: "Update " + name, Name: name, ReadOnly: true, Script: "app.py", Args: "--port, 8080", Autostart: true}
		if got != want {
			t.Errorf("the update dialog shows %+v; want %+v", got, want)
		}
		tb.do("press Esc", chromedp.KeyEvent(kb.Escape))
		tb.waitJS("the dialog to close on Esc", `!`+uploadDialogJS+`.open`, `'open'`)
	})

	t.Run("Remove asks, then deletes", func(t *testing.T) {
		tb.t = t
		tb.click("Remove "+name, buttonJS(name, "remove"))
		tb.waitJS("the row to go", rowJS(name)+` === null`, rowsStateJS)
		want := []string{"confirm: Remove program web app? Its files are deleted."}
		if got := tb.openedDialogs(); !slices.Equal(got, want) {
			t.Errorf("the page opened the dialogs %q; want %q", got, want)
		}
		if _, err := os.Stat(filepath.Join(f.sup.UploadsDir(), install.DirName(name))); !os.IsNotExist(err) {
			t.Errorf("after Remove the program's directory: %v; want it gone", err)
		}
		if _, err := f.sup.Status(name); err == nil {
			t.Errorf("after Remove the supervisor still has %q", name)
		}
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
}

// TestBrowserUploadDialogOnPhone checks that the upload button and the dialog
// fit a 360 px wide screen: no horizontal scroll, every control reachable.
func TestBrowserUploadDialogOnPhone(t *testing.T) {
	d := newBrowserDashboard(t, uploadConfig)
	tb := newTab(t, d.browser)
	tb.do("emulate a 360x740 screen", chromedp.EmulateViewport(360, 740))
	tb.openDashboard(d.url, 1)
	tb.click("+ Upload Program", `document.querySelector('[data-action=upload]')`)
	tb.waitJS("the upload dialog to open", uploadDialogJS+`.open`, `'closed'`)
	bad := eval[[]string](tb, `[...document.querySelectorAll('dialog[open] button, dialog[open] input')].flatMap(c => {
		c.scrollIntoView({block: 'center', inline: 'nearest'});
		const r = c.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= 360 ? [] : [(c.dataset.field || c.textContent) + ' at ' + JSON.stringify(r)];
	}).concat(document.documentElement.scrollWidth > 360 ? ['scrollWidth ' + document.documentElement.scrollWidth] : [])`)
	if len(bad) > 0 {
		t.Errorf("on a 360 px screen the upload dialog has controls outside the screen: %q", bad)
	}
	tb.click("Cancel", uploadDialogJS+`.querySelector('[data-action=cancel]')`)
	tb.waitJS("Cancel to close the dialog", `!`+uploadDialogJS+`.open`, `'open'`)
	if !eval[bool](tb, `document.activeElement === document.querySelector('[data-action=upload]')`) {
		t.Errorf("after Cancel the focus is on %s; want it back on the upload button", eval[string](tb, `document.activeElement.outerHTML`))
	}
}
