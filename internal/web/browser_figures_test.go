package web

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBrowserFiguresBeforeSampling starts a program with the dashboard open
// on its card, its table row and its page, and records every CPU and memory
// figure each shows: before the first sample both read "—" (not "0.0 %" and
// "0 B"); after it the memory shows while CPU, which needs two samples,
// still reads "—"; after the second both show. Samples 3 s apart: the event
// stream coalesces the changes that come while it waits out its gap between
// events, and on a loaded machine a state shown for 1 s could be skipped.
func TestBrowserFiguresBeforeSampling(t *testing.T) {
	d := newBrowserDashboard(t, "sampling: {interval_seconds: 3}\nprograms:\n  - {name: late, script: sleeper.py, enabled: false}\n")
	places := []struct {
		name, open, cpu, mem string
	}{
		{"card", "", `article[data-program=late] [data-field=cpu]`, `article[data-program=late] [data-field=memory]`},
		{"table row", "table", `[data-trow=late] .c-cpu span`, `[data-trow=late] .c-mem span`},
		{"program page", "#/programs/late", `[data-field=page-cpu]`, `[data-field=page-memory]`},
	}
	tabs := make([]*tab, len(places))
	for i, pl := range places {
		tb := newTab(t, d.browser)
		if pl.open == "table" {
			tb.openDashboard(d.url, 1)
			tb.click("the Table view", `document.querySelector('[data-view=table]')`)
		} else {
			tb.openDashboard(d.url+pl.open, 1)
		}
		// Record the figures at every change of the page, as they were shown.
		tb.waitJS("the "+pl.name+"'s figures", `(() => {
			const read = () => [`+jsString(pl.cpu)+`, `+jsString(pl.mem)+`].map((s) => document.querySelector(s)?.textContent ?? 'none').join(' | ');
			if (read().includes('none')) return false;
			window.__seen = [read()];
			new MutationObserver(() => { const v = read(); if (__seen.at(-1) !== v) __seen.push(v); })
				.observe(document.body, { subtree: true, childList: true, characterData: true });
			return true;
		})()`, `document.body.innerHTML.length`)
		tabs[i] = tb
	}
	if _, err := d.sup.Start(t.Context(), "late"); err != nil {
		t.Fatal(err)
	}
	cpuFigure := regexp.MustCompile(`^\d+\.\d %$`)
	for i, pl := range places {
		tb := tabs[i]
		tb.waitJS("the "+pl.name+" to show a CPU figure", `/^\d+\.\d %/.test(__seen.at(-1))`, `JSON.stringify(__seen)`)
		seen := eval[[]string](tb, `__seen`)
		firstMem := slices.IndexFunc(seen, func(s string) bool { return !strings.HasSuffix(s, "| —") })
		firstCPU := slices.IndexFunc(seen, func(s string) bool { return cpuFigure.MatchString(strings.Split(s, " | ")[0]) })
		if seen[0] != "— | —" || firstMem < 0 || firstMem >= firstCPU || slices.ContainsFunc(seen, func(s string) bool { return strings.Contains(s, " 0 B") }) {
			t.Errorf("the %s showed CPU | memory %q; want — | — until the first sample, then the memory with CPU still —, and the CPU after the second", pl.name, seen)
		}
	}
}
