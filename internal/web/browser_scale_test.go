package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// scaleProbeJS runs before the dashboard's own scripts. It times every
// "programs" event's handler plus the style and layout it causes (a forced
// layout right after), sums the layout shifts, and counts the table rows
// each update changes. It can set the view the dashboard remembers.
const scaleProbeJS = `(() => {
  const p = window.__probe = { updates: [], firstEnd: 0, cls: 0, shifts: 0, touched: new Set() };
  const add = EventTarget.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, opts) {
    if (type !== 'programs') return add.call(this, type, fn, opts);
    return add.call(this, type, (e) => {
      const t0 = performance.now();
      fn(e);
      document.body.offsetHeight; // style and layout belong to the update
      const t1 = performance.now();
      if (!p.firstEnd) { p.firstEnd = t1; p.first = t1 - t0; } else p.updates.push(t1 - t0);
    }, opts);
  };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) if (!e.hadRecentInput) {
      p.cls += e.value; p.shifts++;
      for (const s of e.sources || []) (p.moved ||= new Set()).add(s.node?.nodeName + '.' + (s.node?.className || '') + ' ' + (s.node?.textContent || '').slice(0, 30));
    }
  }).observe({ type: 'layout-shift', buffered: true });
  new MutationObserver((ms) => {
    for (const m of ms) { const r = m.target.closest?.('[data-trow]') || m.target.parentNode?.closest?.('[data-trow]'); if (r) p.touched.add(r.dataset.trow); }
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})()`

// TestBrowserScale measures the dashboard with 200 programs: 40 running, one
// in a crash loop, the rest stopped; CPU and memory sampled twice a second.
// It reports the first render, the main-thread time of each live update and
// the cumulative layout shift over 30 s in the table view, and 15 s in the
// cards. Timings are reported, not asserted (a loaded machine makes them
// anything); asserted are what timing cannot break: no layout shift in the
// table, an update costs less than the first render, and the rows of
// programs that never change are never touched.
func TestBrowserScale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 200 programs for a minute")
	}
	dir := writeScripts(t, map[string]string{"loop.py": "import sys, time\ntime.sleep(0.3)\nprint('crash', flush=True)\nsys.exit(1)\n"})
	var b strings.Builder
	b.WriteString("sampling: {interval_seconds: 0.5}\nrestart: {delay_seconds: 0.2, max_consecutive_failures: 0}\nprograms:\n")
	for i := range 200 {
		switch {
		case i == 7:
			fmt.Fprintf(&b, "  - {name: crashloop, script: %s, group: Group %d}\n", scriptPath(dir, "loop.py"), i%5)
		case i%5 == 0:
			fmt.Fprintf(&b, "  - {name: svc-%03d, script: sleeper.py, group: Group %d}\n", i, i%5)
		default:
			fmt.Fprintf(&b, "  - {name: svc-%03d, script: sleeper.py, enabled: false, group: Group %d}\n", i, i%5)
		}
	}
	d := newBrowserDashboard(t, b.String())
	waitUntil(t, "40 programs running", func() bool {
		n := 0
		for _, st := range d.sup.Statuses() {
			if st.PID != 0 && st.Name != "crashloop" {
				n++
			}
		}
		return n == 40
	}, func() string { return "" })

	measure := func(view string, secs int) (first, total, median, worst, cls float64, updates int, untouched bool) {
		tb := newTab(t, d.browser)
		tb.do("set the screen size", chromedp.EmulateViewport(1280, 800))
		ctx, cancel := tb.within()
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: scaleProbeJS + `;localStorage.setItem('pyvisor.view', '"` + view + `"')`})
		cancel()
		if err != nil {
			t.Fatalf("add the probe: %v", err)
		}
		tb.openDashboard(d.url, 200)
		tb.waitJS("the first render", `window.__probe.firstEnd > 0`, `''`)
		start := eval[int](tb, `window.__probe.updates.length`)
		eval[bool](tb, `(window.__probe.touched.clear(), window.__probe.cls = 0, true)`)
		time.Sleep(time.Duration(secs) * time.Second) // the measurement's length: updates arrive meanwhile
		type result struct {
			First, FirstEnd, CLS float64
			Updates              []float64
			Touched, Moved       []string
		}
		r := eval[result](tb, `({First: __probe.first, FirstEnd: __probe.firstEnd, CLS: __probe.cls, Updates: __probe.updates, Touched: [...__probe.touched], Moved: [...(__probe.moved || [])]})`)
		if len(r.Moved) > 0 {
			t.Logf("%s view: what moved: %q", view, r.Moved)
		}
		ups := r.Updates[start:]
		if len(ups) == 0 {
			t.Fatalf("%s view: no update in %d s", view, secs)
		}
		sorted := append([]float64(nil), ups...)
		for i := range sorted { // a small insertion sort: at most a few hundred values
			for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
				sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
			}
		}
		untouched = true
		for _, n := range r.Touched {
			var i int
			if _, err := fmt.Sscanf(n, "svc-%03d", &i); err == nil && i%5 != 0 {
				untouched = false
				t.Errorf("%s view: the row of %s, which never changes, was changed by an update", view, n)
			}
		}
		return r.First, r.FirstEnd, sorted[len(sorted)/2], sorted[len(sorted)-1], r.CLS, len(ups), untouched
	}

	first, total, median, worst, cls, n, _ := measure("table", 30)
	t.Logf("table view, 200 programs: first render %.1f ms of main thread (%.0f ms after navigation start); "+
		"%d live updates over 30 s: median %.2f ms, worst %.2f ms; cumulative layout shift %.4f", first, total, n, median, worst, cls)
	if cls >= 0.01 {
		t.Errorf("table view: cumulative layout shift over 30 s = %.4f, want under 0.01", cls)
	}
	if median >= first {
		t.Errorf("table view: the median update took %.2f ms, the first render %.2f ms; an update changes only the rows that changed, so it must cost less", median, first)
	}
	first, total, median, worst, cls, n, _ = measure("cards", 15)
	t.Logf("cards view, 200 programs: first render %.1f ms of main thread (%.0f ms after navigation start); "+
		"%d live updates over 15 s: median %.2f ms, worst %.2f ms; cumulative layout shift %.4f", first, total, n, median, worst, cls)
}
