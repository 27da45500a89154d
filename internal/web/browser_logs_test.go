package web

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// numberedPy prints "line 1" to "line N" (N = argv[1]), then one line
// "written after opening K" for the K-th SIGUSR1 it gets.
const numberedPy = `import signal, sys
for i in range(1, int(sys.argv[1]) + 1):
    print(f"line {i}")
sys.stdout.flush()
later = 0
def more(signum, frame):
    global later
    later += 1
    print(f"written after opening {later}", flush=True)
signal.signal(signal.SIGUSR1, more)
while True:
    signal.pause()
`

// The log viewer's parts, as JavaScript expressions.
const (
	dialogJS = `document.querySelector('dialog[data-modal=logs]')`
	linesJS  = `[...document.querySelectorAll('[data-field=lines] [data-line]')]`
	infoJS   = `document.querySelector('[data-field=info]').textContent`
)

// openLogs loads the dashboard and opens the log viewer of program name with
// its Logs button; it waits until the viewer shows a page.
func (tb *tab) openLogs(url, name string, rows int) {
	tb.t.Helper()
	tb.openDashboard(url, rows)
	tb.click("Logs of "+name, buttonJS(name, "logs"))
	tb.waitJS("the log viewer of "+name+" to show a page", dialogJS+`.open && `+infoJS+`.startsWith('Page ')`,
		`'open: ' + `+dialogJS+`.open + '; info: ' + `+infoJS)
}

// pageView is what the viewer shows of a page: the number and text of its
// first and last lines, the info line and which pager buttons are enabled.
type pageView struct {
	First, Last         int
	FirstText, LastText string
	Count               int
	Info                string
	Enabled             []string
}

func (tb *tab) logPage() pageView {
	tb.t.Helper()
	return eval[pageView](tb, `(() => { const ls = `+linesJS+`;
		return {First: +ls[0].dataset.line, Last: +ls.at(-1).dataset.line, FirstText: ls[0].textContent,
			LastText: ls.at(-1).textContent, Count: ls.length, Info: `+infoJS+`,
			Enabled: [...document.querySelectorAll('[data-page]')].filter((b) => !b.disabled).map((b) => b.dataset.page)};
	})()`)
}

// TestBrowserLogViewer pages through a 500-line log, follows it live,
// filters it and closes the viewer with Esc.
func TestBrowserLogViewer(t *testing.T) {
	dir := writeScripts(t, map[string]string{"numbered.py": numberedPy})
	d := newBrowserDashboard(t, `
programs:
  - name: numbers
    script: `+scriptPath(dir, "numbered.py")+`
    args: ["500"]
`)
	d.waitFor(t, "numbers", "running", inState(supervisor.Running))
	d.waitLog(t, "numbers", "line 500\n")

	t.Run("opens on the newest lines", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		got := tb.logPage()
		want := pageView{First: 301, Last: 500, FirstText: "line 301", LastText: "line 500", Count: 200,
			Info: got.Info, Enabled: []string{"next", "last"}}
		if fmt.Sprint(got) != fmt.Sprint(want) || !strings.HasPrefix(got.Info, "Page 1 of 3 · lines 301–500 of 500") {
			t.Errorf("the viewer opened on %+v; want %+v, info starting with %q", got, want, "Page 1 of 3 · lines 301–500 of 500")
		}
		if title := eval[string](tb, `document.querySelector('[data-field=logs-title]').textContent`); title != "Logs: numbers" {
			t.Errorf("the viewer's title is %q; want %q", title, "Logs: numbers")
		}
		// The newest page is read from the bottom.
		if !eval[bool](tb, `(() => { const e = document.querySelector('[data-field=lines]');
				return e.scrollHeight > e.clientHeight && e.scrollTop + e.clientHeight >= e.scrollHeight - 2; })()`) {
			t.Errorf("the newest page is not scrolled to its last line")
		}
	})

	t.Run("pages back to line 1", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		for _, step := range []struct {
			button, info string
			want         pageView
		}{
			{"next", "Page 2 of 3", pageView{First: 101, Last: 300, FirstText: "line 101", LastText: "line 300", Count: 200,
				Enabled: []string{"first", "prev", "next", "last"}}},
			// The oldest page is a full one: it shows the first 200 lines.
			{"last", "Page 3 of 3", pageView{First: 1, Last: 200, FirstText: "line 1", LastText: "line 200", Count: 200,
				Enabled: []string{"first", "prev"}}},
			{"prev", "Page 2 of 3", pageView{First: 101, Last: 300, FirstText: "line 101", LastText: "line 300", Count: 200,
				Enabled: []string{"first", "prev", "next", "last"}}},
			{"first", "Page 1 of 3", pageView{First: 301, Last: 500, FirstText: "line 301", LastText: "line 500", Count: 200,
				Enabled: []string{"next", "last"}}},
		} {
			tb.click("the pager's "+step.button, `document.querySelector('[data-page=`+step.button+`]')`)
			tb.waitJS(step.info+" after "+step.button, infoJS+`.startsWith(`+jsString(step.info+" ")+`)`, infoJS)
			got := tb.logPage()
			step.want.Info = got.Info
			if fmt.Sprint(got) != fmt.Sprint(step.want) {
				t.Errorf("after %s the viewer shows %+v; want %+v", step.button, got, step.want)
			}
		}
	})

	t.Run("filter narrows the lines", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		tb.do("type in the filter", chromedp.SendKeys(chromedp.CSS("[data-field=filter]"), "LINE 45"))
		want := []string{"line 450", "line 451", "line 452", "line 453", "line 454", "line 455", "line 456", "line 457", "line 458", "line 459"}
		tb.waitJS("the filter to leave 10 lines", linesJS+`.filter((d) => !d.hidden).length === 10`, infoJS)
		if got := eval[[]string](tb, linesJS+`.filter((d) => !d.hidden).map((d) => d.textContent)`); !slices.Equal(got, want) {
			t.Errorf("filter %q shows %q; want %q", "LINE 45", got, want)
		}
		if info := eval[string](tb, infoJS); !strings.Contains(info, "10 of 200 shown") {
			t.Errorf("with a filter the info reads %q; want it to say 10 of 200 shown", info)
		}
		tb.do("clear the filter", chromedp.SendKeys(chromedp.CSS("[data-field=filter]"), strings.Repeat(kb.Backspace, len("LINE 45"))))
		tb.waitJS("all 200 lines again", linesJS+`.filter((d) => !d.hidden).length === 200`, infoJS)
	})

	t.Run("auto-refresh shows a line written after opening", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		before := tb.logPage()
		followUntilNewLine(t, tb, d.pid(t, "numbers"))
		type live struct {
			Number int
			Last   string
			Info   string
		}
		got := eval[live](tb, `({Number: +`+newLineJS+`.dataset.line, Last: `+linesJS+`.at(-1).textContent, Info: `+infoJS+`})`)
		if got.Number <= before.Last || !strings.HasPrefix(got.Last, "written after opening") || !strings.Contains(got.Info, "live: ") {
			t.Errorf("after a write the viewer shows %+v; want the new line last, numbered past %d, and a live count in the info",
				got, before.Last)
		}
	})

	t.Run("Esc closes the viewer", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		tb.do("press Esc", chromedp.KeyEvent(kb.Escape))
		tb.waitJS("the viewer to close", `!`+dialogJS+`.open`, `'still open'`)
		if !eval[bool](tb, `document.activeElement === `+buttonJS("numbers", "logs")) {
			t.Errorf("after Esc the focus is on %s; want it back on the Logs button",
				eval[string](tb, `document.activeElement.outerHTML.slice(0, 80)`))
		}
	})
}

// untrustedPy writes a line that is markup and a line with ANSI colours; with
// the argument "crash" it then fails with markup in its exception.
const untrustedPy = `import sys, time
print("<script>alert(2)</script>", flush=True)
print("\x1b[31mred alert\x1b[0m then \x1b[1;32mbold green\x1b[0m", flush=True)
if sys.argv[1:] == ["crash"]:
    raise ValueError("<img src=x onerror=alert(3)>")
while True:
    time.sleep(3600)
`

// rawANSI matches an escape sequence, or what is left of one, shown as text.
const rawANSI = `/\x1b|\[[0-9;]*m/`

// TestBrowserUntrustedText checks that program names and log lines are shown
// as text, never run as HTML, and that ANSI colour codes never show raw.
func TestBrowserUntrustedText(t *testing.T) {
	dir := writeScripts(t, map[string]string{"untrusted.py": untrustedPy})
	d := newBrowserDashboard(t, `
restart:
  max_consecutive_failures: 1
programs:
  - name: "`+markupName+`"
    script: `+scriptPath(dir, "untrusted.py")+`
  - name: crasher
    script: `+scriptPath(dir, "untrusted.py")+`
    args: ["crash"]
`)
	d.waitFor(t, markupName, "running", inState(supervisor.Running))
	d.waitFor(t, "crasher", "broken", inState(supervisor.Broken))
	d.waitLog(t, markupName, "bold green")
	const noMarkup = `document.querySelectorAll('img, script:not([src])').length === 0`

	t.Run("program name", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openDashboard(d.url, 2)
		got := eval[[]string](tb, `(() => { const r = [...document.querySelectorAll('article')].find((a) => a.dataset.program === `+jsString(markupName)+`);
			return r ? [r.querySelector('[data-field=name]').textContent, r.querySelector('[data-action=logs]').getAttribute('aria-label')] : []; })()`)
		want := []string{markupName, "Logs " + markupName}
		if !slices.Equal(got, want) {
			t.Errorf("the row of %q shows [name, Logs button's label] %q; want %q", markupName, got, want)
		}
		if !eval[bool](tb, noMarkup) {
			t.Errorf("the page has img or inline script elements: %s", eval[string](tb, `document.querySelector('main').innerHTML.slice(0, 300)`))
		}
		tb.checkNoDialogs()
	})

	t.Run("log line in the viewer", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, markupName, 2)
		got := eval[[]string](tb, `[document.querySelector('[data-field=logs-title]').textContent, `+linesJS+`[0].textContent, String(`+noMarkup+`)]`)
		want := []string{"Logs: " + markupName, "<script>alert(2)</script>", "true"}
		if !slices.Equal(got, want) {
			t.Errorf("the viewer shows [title, first line, no img or script element] %q; want %q", got, want)
		}
		tb.checkNoDialogs()
	})

	t.Run("crash tail in the row", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openDashboard(d.url, 2)
		tail := rowJS("crasher") + `.querySelector('[data-field=tail]')`
		tb.waitJS("crasher's tail", `!`+tail+`.hidden && `+tail+`.textContent.includes('ValueError')`, rowsStateJS)
		text := eval[string](tb, tail+`.textContent`)
		for _, want := range []string{"<script>alert(2)</script>\n", "ValueError: <img src=x onerror=alert(3)>"} {
			if !strings.Contains(text, want) {
				t.Errorf("crasher's tail reads %q; want it to contain %q", text, want)
			}
		}
		if !eval[bool](tb, noMarkup) {
			t.Errorf("the tail made img or script elements: %s", eval[string](tb, tail+`.innerHTML`))
		}
		tb.checkNoDialogs()
	})

	// ansiLine checks the ANSI line in the element the expression parent gives.
	ansiLine := func(t *testing.T, tb *tab, where, parent string) {
		t.Helper()
		type view struct {
			Raw        bool     // some text shows an escape sequence
			Text       string   // of the line with colours
			Red, Green []string // classes of the spans of "red alert" and "bold green"
			Coloured   bool     // "red alert" has a colour of its own
		}
		got := eval[view](tb, `(() => {
			const p = `+parent+`, span = (s) => [...p.querySelectorAll('span')].find((e) => e.textContent === s);
			const red = span('red alert'), green = span('bold green');
			return {Raw: `+rawANSI+`.test(p.textContent),
				Text: red ? red.parentElement.textContent.split('\n').find((l) => l.includes('red alert')) : '',
				Red: red ? [...red.classList] : [], Green: green ? [...green.classList] : [],
				Coloured: !!red && getComputedStyle(red).color !== getComputedStyle(red.parentElement).color};
		})()`)
		want := view{Text: "red alert then bold green", Red: []string{"a-f1"}, Green: []string{"a-b", "a-f2"}, Coloured: true}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s shows the ANSI line as %+v; want %+v", where, got, want)
		}
	}

	t.Run("ANSI colours in the viewer and the tail", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openDashboard(d.url, 2)
		tb.waitJS("crasher's tail", `!`+rowJS("crasher")+`.querySelector('[data-field=tail]').hidden`, rowsStateJS)
		ansiLine(t, tb, "crasher's tail", rowJS("crasher")+`.querySelector('[data-field=tail]')`)
		tb.click("Logs of crasher", buttonJS("crasher", "logs"))
		tb.waitJS("the viewer to show lines", linesJS+`.length >= 2`, infoJS)
		ansiLine(t, tb, "the log viewer", `document.querySelector('[data-field=lines]')`)
		tb.checkNoDialogs()
	})
}

// checkNoDialogs fails the test if the page opened a JavaScript dialog. To
// show that one would be seen, it opens one itself first and waits for it.
func (tb *tab) checkNoDialogs() {
	tb.t.Helper()
	eval[chromedp.Void](tb, `setTimeout(() => alert('probe'), 0)`)
	probe := "alert: probe"
	waitUntil(tb.t, "the probe dialog to be seen", func() bool { return slices.Contains(tb.openedDialogs(), probe) },
		func() string { return fmt.Sprintf("dialogs seen: %q", tb.openedDialogs()) })
	if got := tb.openedDialogs(); !slices.Equal(got, []string{probe}) {
		tb.t.Errorf("the page opened the dialogs %q; want none but the test's own probe (%q)", got, probe)
	}
}

// newLineJS finds the viewer's first line written after opening, or undefined.
const newLineJS = linesJS + `.find((d) => d.textContent.startsWith('written after opening'))`

// followUntilNewLine turns the viewer's Auto-refresh on and has the program
// pid write "written after opening" lines (SIGUSR1) until one shows. The stream
// may connect a moment after the page says so; a line written before that is in
// no stream, so it writes lines until one comes.
func followUntilNewLine(t *testing.T, tb *tab, pid int) {
	t.Helper()
	tb.click("Auto-refresh", `document.querySelector('[data-field=follow]')`)
	tb.waitJS("the live tail to start", infoJS+`.includes('live: 0 new lines')`, infoJS)
	waitUntil(t, "a line written after opening to show", func() bool {
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			t.Fatalf("kill(%d, SIGUSR1): %v", pid, err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if eval[bool](tb, `!!(`+newLineJS+`)`) {
				return true
			}
			time.Sleep(pollEvery) // as waitUntil
		}
		return false
	}, func() string { return "the viewer's info: " + eval[string](tb, infoJS) })
}
