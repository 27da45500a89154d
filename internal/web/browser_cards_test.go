package web

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// viewports are the screens the layout tests run at: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"1280x800", 1280, 800}, {"390x844", 390, 844}}

// crashLoopPy prints a traceback and fails 0.3 s after each start.
const crashLoopPy = `import sys, time
time.sleep(0.3)
print("Traceback (most recent call last):", flush=True)
print('  File "loop.py", line 3, in <module>', flush=True)
print("RuntimeError: the queue is gone", flush=True)
sys.exit(1)
`

// TestBrowserCrashLoopCardsKeepTheirSize runs a program that crashes every
// 0.6 s: once its tail shows, its card keeps its height through the cycles
// of running and restarting, and the card after it does not move.
func TestBrowserCrashLoopCardsKeepTheirSize(t *testing.T) {
	dir := writeScripts(t, map[string]string{"loop.py": crashLoopPy})
	d := newBrowserDashboard(t, `
restart:
  delay_seconds: 0.3
  max_consecutive_failures: 0
programs:
  - name: loop
    script: `+scriptPath(dir, "loop.py")+`
  - {name: a, script: sleeper.py, enabled: false}
  - {name: b, script: sleeper.py, enabled: false}
  - {name: c, script: sleeper.py, enabled: false}
`)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			tb := newTab(t, d.browser)
			tb.do("set the screen size", chromedp.EmulateViewport(vp.width, vp.height))
			tb.openDashboard(d.url, 4)
			// Record, at every change, the state, the card's height and where
			// the last card is, from the first time the tail shows on.
			eval[int](tb, `(() => {
				const row = `+rowJS("loop")+`, last = `+rowJS("c")+`, tail = row.querySelector('[data-field=tail]');
				window.__seen = [];
				const look = () => {
					if (tail.hidden && !__seen.length) return;
					const s = {State: row.dataset.state, Height: row.getBoundingClientRect().height,
						LastTop: last.getBoundingClientRect().top + scrollY, Tail: !tail.hidden};
					const p = __seen.at(-1);
					if (!p || p.State !== s.State || p.Height !== s.Height || p.LastTop !== s.LastTop || p.Tail !== s.Tail) __seen.push(s);
				};
				new MutationObserver(look).observe(document.body, {attributes: true, childList: true, subtree: true, characterData: true});
				look();
				return 1;
			})()`)
			tb.waitJS("three restarts with the tail shown",
				`__seen.filter((s) => s.State === 'restarting').length >= 3 && __seen.filter((s) => s.State === 'running').length >= 3`,
				`JSON.stringify(__seen)`)
			type seen struct {
				State           string
				Height, LastTop float64
				Tail            bool
			}
			got := eval[[]seen](tb, `__seen`)
			for _, s := range got {
				if !s.Tail || math.Abs(s.Height-got[0].Height) > 0.5 || math.Abs(s.LastTop-got[0].LastTop) > 0.5 {
					t.Errorf("at %s the crash-looping card shows %+v; want the tail shown, height %.1f and the last card at %.1f as at first (all: %+v)",
						vp.name, s, got[0].Height, got[0].LastTop, got)
					break
				}
			}
		})
	}
}

// TestBrowserManagerDown stops the server under an open dashboard that
// follows a log: the page says its data is stale, shows no figures, disables
// the actions and says the log is no longer followed; all comes back with
// the server.
func TestBrowserManagerDown(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	dir := writeScripts(t, map[string]string{"numbered.py": numberedPy})
	f := newFixture(t, `
sampling:
  interval_seconds: 0.2
programs:
  - name: numbers
    script: `+scriptPath(dir, "numbered.py")+`
    args: ["5"]
`)
	f.waitFor(t, "numbers", "running", inState(supervisor.Running))
	srv := serveRestartable(t, f.h)
	tb := newTab(t, startBrowser(t))
	tb.openLogs(srv.url(), "numbers", 1)
	tb.click("Auto-refresh", `document.querySelector('[data-field=follow]')`)
	tb.waitJS("the live tail to start", infoJS+`.includes('live:')`, infoJS)
	row := rowJS("numbers")
	tb.waitJS("a memory figure", row+`.querySelector('[data-field=memory]').textContent !== '—'`, rowsStateJS)

	type view struct {
		Banner, Stale, StopOff, LogsOff, UploadOff bool
		CPU, Memory, LogError                      string
	}
	viewJS := `(() => { const r = ` + row + `, e = document.querySelector('[data-field=logs-error]');
		return {Banner: !document.querySelector('[data-field=stale]').hidden, Stale: document.body.hasAttribute('data-stale'),
			StopOff: r.querySelector('[data-action=stop]').disabled, LogsOff: r.querySelector('[data-action=logs]').disabled,
			UploadOff: document.querySelector('[data-action=upload]').disabled,
			CPU: r.querySelector('[data-field=cpu]').textContent, Memory: r.querySelector('[data-field=memory]').textContent,
			LogError: e.hidden ? '' : e.textContent}; })()`

	srv.stop()
	tb.waitJS("the page to say its data is stale", `document.body.hasAttribute('data-stale')`, `JSON.stringify(`+viewJS+`)`)
	tb.waitJS("the viewer to say it stopped following", `!document.querySelector('[data-field=logs-error]').hidden`, `JSON.stringify(`+viewJS+`)`)
	got := eval[view](tb, viewJS)
	want := view{Banner: true, Stale: true, StopOff: true, UploadOff: true, CPU: "—", Memory: "—",
		LogError: "Stopped following: the connection to pyvisor was lost; following again once it is back."}
	if got != want {
		t.Errorf("with the server down the page shows %+v; want %+v", got, want)
	}

	srv.start()
	tb.waitJS("the page to be live again", `!document.body.hasAttribute('data-stale') && `+row+`.querySelector('[data-field=memory]').textContent !== '—'`,
		`JSON.stringify(`+viewJS+`)`)
	tb.waitJS("the viewer to follow again", `document.querySelector('[data-field=logs-error]').hidden`, `JSON.stringify(`+viewJS+`)`)
	if got := eval[view](tb, viewJS); got.Banner || got.StopOff || got.UploadOff || got.CPU == "—" {
		t.Errorf("with the server back the page shows %+v; want no banner, Stop and Upload enabled, figures shown", got)
	}
}

// TestBrowserCards checks what cards show in a few states: no figures before
// the first sample, the focus kept after Enter on Stop and Start, a neutral
// look for programs stopped or finished and red for broken ones, a failed
// action's message that goes, and an empty log.
func TestBrowserCards(t *testing.T) {
	dir := writeScripts(t, map[string]string{"fail.py": failNowPy, "done.py": "print('all done')\n"})
	// Samples an hour apart: a program started by the test is never sampled.
	d := newBrowserDashboard(t, `
sampling:
  interval_seconds: 3600
restart:
  delay_seconds: 0.1
programs:
  - name: api
    script: sleeper.py
  - name: reports
    script: sleeper.py
    enabled: false
  - name: nightly
    script: `+scriptPath(dir, "done.py")+`
    exit_codes: [0]
  - name: flaky
    script: `+scriptPath(dir, "fail.py")+`
    restart:
      max_consecutive_failures: 1
  - name: later
    script: later.py
    enabled: false
`)
	d.waitFor(t, "api", "running", inState(supervisor.Running))
	d.waitFor(t, "nightly", "finished", inState(supervisor.Stopped))
	d.waitFor(t, "flaky", "broken", inState(supervisor.Broken))
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 5)

	t.Run("Enter on Stop and Start keeps the focus, no figures before a sample", func(t *testing.T) {
		focusJS := `(() => { const a = document.activeElement; return a === document.body ? 'body' :
			(a.closest('article')?.dataset.program ?? '') + ':' + (a.dataset.action ?? a.tagName); })()`
		eval[bool](tb, buttonJS("api", "stop")+`.focus() ?? true`)
		tb.do("press Enter on Stop api", chromedp.KeyEvent(kb.Enter))
		tb.waitState("api", "stopped")
		tb.waitJS("the focus to settle", rowJS("api")+`.getAttribute('aria-busy') === 'false'`, focusJS)
		if got := eval[string](tb, focusJS); got != "api:start" {
			t.Errorf("after Enter on Stop the focus is on %q; want api's Start button", got)
		}
		tb.do("press Enter on Start api", chromedp.KeyEvent(kb.Enter))
		tb.waitState("api", "running")
		tb.waitJS("the focus to settle", rowJS("api")+`.getAttribute('aria-busy') === 'false'`, focusJS)
		if got := eval[string](tb, focusJS); got != "api:stop" {
			t.Errorf("after Enter on Start the focus is on %q; want api's Stop button", got)
		}
		got := eval[[]string](tb, `['cpu', 'memory'].map((f) => `+rowJS("api")+`.querySelector('[data-field=' + f + ']').textContent)`)
		if got[0] != "—" || got[1] != "—" {
			t.Errorf("api, started and not sampled yet, shows CPU %q and memory %q; want — for both", got[0], got[1])
		}
	})

	t.Run("stopped and finished look neutral, broken red", func(t *testing.T) {
		type look struct{ Badge, Border string }
		got := eval[map[string]look](tb, `Object.fromEntries(['reports', 'nightly', 'flaky', 'api'].map((n) => {
			const r = document.querySelector('article[data-program="' + n + '"]');
			return [n, {Badge: getComputedStyle(r.querySelector('[data-field=state]')).backgroundColor, Border: getComputedStyle(r).borderLeftColor}];
		}))`)
		red := eval[string](tb, `(() => { const e = document.createElement('span'); e.style.color = 'var(--red)'; document.body.append(e);
			const c = getComputedStyle(e).color; e.remove(); return c; })()`)
		for name, attention := range map[string]bool{"reports": false, "nightly": false, "flaky": true, "api": false} {
			l := got[name]
			if (l.Badge == red || l.Border == red) != attention || attention && (l.Badge != red || l.Border != red) {
				t.Errorf("%s shows badge %s and border %s; want red (%s) for both: %v", name, l.Badge, l.Border, red, attention)
			}
		}
	})

	t.Run("a failed action's message goes", func(t *testing.T) {
		msg := rowJS("later") + `.querySelector('[data-field=action-error]')`
		tb.click("Start later", buttonJS("later", "start"))
		tb.waitJS("the start's failure", `!`+msg+`.hidden && `+msg+`.textContent.startsWith('Start failed:')`, msg+`.textContent`)
		// Now it can start: the next action, a success, clears the message.
		if err := os.WriteFile(filepath.Join(d.dir, "later.py"), []byte(scripts["sleeper.py"]), 0o644); err != nil {
			t.Fatal(err)
		}
		tb.click("Start later", buttonJS("later", "start"))
		tb.waitState("later", "running")
		if !eval[bool](tb, msg+`.hidden`) {
			t.Errorf("after a successful start the message still reads %q", eval[string](tb, msg+`.textContent`))
		}
		tb.click("Stop later", buttonJS("later", "stop"))
		tb.waitState("later", "stopped")
		if err := os.Remove(filepath.Join(d.dir, "later.py")); err != nil {
			t.Fatal(err)
		}
		tb.click("Start later", buttonJS("later", "start"))
		tb.waitJS("the start's failure", `!`+msg+`.hidden`, msg+`.textContent`)
		// With nothing done, it goes after a while (waitJS's deadline is longer).
		tb.waitJS("the message to go by itself", msg+`.hidden`, msg+`.textContent`)
	})

	t.Run("an empty log says so", func(t *testing.T) {
		tb.click("Logs of reports", buttonJS("reports", "logs"))
		tb.waitJS("the viewer to show the empty log", infoJS+` === 'No lines yet'`, infoJS)
		if got := eval[string](tb, `document.querySelector('[data-field=lines]').textContent`); got != "No lines yet." {
			t.Errorf("the empty log's viewer shows %q; want %q", got, "No lines yet.")
		}
		tb.do("press Esc", chromedp.KeyEvent(kb.Escape))
	})
}

// contrastJS lists the text of the page whose contrast with its background
// is under 4.5:1 (WCAG AA), from the computed styles: the background is that
// of the nearest ancestors, composed down to the first opaque one. Disabled
// controls are exempt, as are the colours a program's output chose.
const contrastJS = `(() => {
	const parse = (c) => { const m = c.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
	const over = (top, bot) => [0, 1, 2].map((i) => top[i] * top[3] + bot[i] * (1 - top[3])).concat(1);
	const background = (e) => {
		const layers = [];
		for (let n = e; n; n = n.parentElement) {
			const c = parse(getComputedStyle(n).backgroundColor);
			if (c[3] > 0) layers.push(c);
			if (c[3] >= 1) break;
		}
		return layers.reverse().reduce((b, l) => over(l, b), [255, 255, 255, 1]);
	};
	const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
		return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
	const bad = [];
	let checked = 0;
	for (const e of document.querySelectorAll('body *')) {
		if (![...e.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim())) continue;
		if (!e.getClientRects().length || getComputedStyle(e).visibility === 'hidden') continue;
		if (e.closest('[hidden], :disabled, [aria-disabled=true], .tail span, .log-lines span')) continue;
		if (e.closest('dialog:not([open])')) continue;
		const b = background(e), r = ratio(over(parse(getComputedStyle(e).color), b), b);
		checked++;
		if (r < 4.5) bad.push(e.tagName + '.' + e.className + ' "' + e.textContent.trim().slice(0, 30) + '" ' + r.toFixed(2) + ':1');
	}
	return {Checked: checked, Bad: bad};
})()`

// TestBrowserContrast checks every text of the dashboard and the log viewer,
// badges included, for WCAG AA contrast in the light and the dark scheme.
func TestBrowserContrast(t *testing.T) {
	dir := writeScripts(t, map[string]string{"fail.py": failNowPy})
	d := newBrowserDashboard(t, overviewConfig(t)+`
  - name: nofile
    script: `+scriptPath(dir, "missing.py")+`
`)
	d.waitFor(t, "flaky", "broken", inState(supervisor.Broken))
	d.waitFor(t, "nofile", "error", inState(supervisor.Error))
	for _, scheme := range []string{"light", "dark"} {
		t.Run(scheme, func(t *testing.T) {
			tb := newTab(t, d.browser)
			ctx, cancel := tb.within()
			defer cancel()
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				t.Fatalf("emulate prefers-color-scheme: %s: %v", scheme, err)
			}
			tb.openDashboard(d.url, 5)
			if eval[bool](tb, `matchMedia('(prefers-color-scheme: dark)').matches`) != (scheme == "dark") {
				t.Fatalf("the page does not see the %s scheme", scheme)
			}
			// The stopping badge is short-lived: one is made to be checked too.
			eval[int](tb, `(() => { const b = document.createElement('span'); b.className = 'badge stopping'; b.textContent = 'stopping';
				document.querySelector('[data-field=counts]').append(b); return 1; })()`)
			type result struct {
				Checked int
				Bad     []string
			}
			check := func(where string) {
				t.Helper()
				got := eval[result](tb, contrastJS)
				if got.Checked < 20 || len(got.Bad) > 0 {
					t.Errorf("%s, %s scheme: %d texts checked, under 4.5:1: %q", where, scheme, got.Checked, got.Bad)
				}
			}
			check("dashboard")
			tb.click("Logs of api", buttonJS("api", "logs"))
			tb.waitJS("the viewer to show a page", infoJS+`.startsWith('Page ')`, infoJS)
			check("log viewer")
			tb.do("press Esc", chromedp.KeyEvent(kb.Escape))
			tb.click("+ Upload Program", `document.querySelector('[data-action=upload]')`)
			tb.waitJS("the upload dialog to open", uploadDialogJS+`.open`, `'closed'`)
			check("upload dialog")
		})
	}
}
