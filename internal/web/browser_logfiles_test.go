package web

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestBrowserLogFiles moves through a log's backups in the viewer, downloads
// one, searches all files and goes to a line.
func TestBrowserLogFiles(t *testing.T) {
	dir := writeScripts(t, map[string]string{"numbered.py": numberedPy})
	d := newBrowserDashboard(t, `
programs:
  - name: numbers
    script: `+scriptPath(dir, "numbered.py")+`
    args: ["500"]
`)
	d.waitFor(t, "numbers", "running", inState(supervisor.Running))
	d.waitLog(t, "numbers", "line 500\n")
	path, err := d.sup.LogPath("numbers")
	if err != nil {
		t.Fatal(err)
	}
	// Backups as rotation names them: .1 the newer, 350 lines; .2 250 lines.
	backup := map[int]string{}
	for k, n := range map[int]int{1: 350, 2: 250} {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "b%d tock %d", k, i)
			if k*1000+i == 1077 || k*1000+i == 2005 {
				b.WriteString(" Needle here")
			}
			b.WriteByte('\n')
		}
		backup[k] = b.String()
		if err := os.WriteFile(fmt.Sprintf("%s.%d", path, k), []byte(backup[k]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// showing waits until the viewer shows file's page with first line text.
	showing := func(tb *tab, what, file, first string) pageView {
		tb.t.Helper()
		cond := linesJS + `.length > 0 && ` + linesJS + `[0].textContent === ` + jsString(first)
		if file != "" {
			cond += ` && ` + infoJS + `.includes(` + jsString(file) + `)`
		} else {
			cond += ` && !` + infoJS + `.includes('numbers.log.')`
		}
		tb.waitJS(what, cond, infoJS+` + ' / first line: ' + (`+linesJS+`[0]?.textContent)`)
		return tb.logPage()
	}

	t.Run("into older files and back", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		options := eval[[]string](tb, `[...document.querySelectorAll('[data-field=file] option')].map((o) => o.value + ' ' + o.textContent.split(' · ')[0])`)
		if want := []string{"0 Live log", "1 Backup 1", "2 Backup 2"}; !slices.Equal(options, want) {
			t.Errorf("the file list shows %q; want %q", options, want)
		}
		tb.click("Older file", `document.querySelector('[data-file=older]')`)
		got := showing(tb, "backup 1's newest page", "numbers.log.1", "b1 tock 151")
		if got.Last != 350 || got.LastText != "b1 tock 350" || got.Count != 200 {
			t.Errorf("after Older file the viewer shows %+v; want lines 151 to 350 of backup 1", got)
		}
		tb.click("Older file", `document.querySelector('[data-file=older]')`)
		showing(tb, "backup 2's newest page", "numbers.log.2", "b2 tock 51")
		if eval[bool](tb, `!document.querySelector('[data-file=older]').disabled`) {
			t.Errorf("Older file is enabled on the oldest file")
		}
		tb.click("Newer file", `document.querySelector('[data-file=newer]')`)
		showing(tb, "backup 1 again", "numbers.log.1", "b1 tock 151")
		// The pager goes on across files: Older from the last page of backup 1
		// is backup 2's newest page, Newer from there backup 1's oldest lines.
		tb.click("the pager's Older", `document.querySelector('[data-page=next]')`)
		showing(tb, "backup 1's oldest page", "numbers.log.1", "b1 tock 1")
		tb.click("the pager's Older", `document.querySelector('[data-page=next]')`)
		showing(tb, "backup 2 from the pager", "numbers.log.2", "b2 tock 51")
		tb.click("the pager's Newer", `document.querySelector('[data-page=prev]')`)
		showing(tb, "backup 1's oldest lines from the pager", "numbers.log.1", "b1 tock 1")
		tb.do("choose the live log", chromedp.SetValue(chromedp.CSS(`[data-field=file]`), "0"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-field=file]').dispatchEvent(new Event('change'))`))
		showing(tb, "the live log again", "", "line 301")
	})

	t.Run("Oldest shows the first lines of the oldest file", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		tb.click("the pager's Oldest", `document.querySelector('[data-page=last]')`)
		got := showing(tb, "the oldest file's first lines", "numbers.log.2", "b2 tock 1")
		want := pageView{First: 1, Last: 200, FirstText: "b2 tock 1", LastText: "b2 tock 200", Count: 200, Info: got.Info,
			Enabled: []string{"first", "prev"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after Oldest the viewer shows %+v; want %+v", got, want)
		}
	})

	t.Run("Download fetches the file shown", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		tb.click("Older file", `document.querySelector('[data-file=older]')`)
		showing(tb, "backup 1", "numbers.log.1", "b1 tock 151")
		type link struct{ Href, Download, Body, Disposition string }
		got := eval[link](tb, `(async () => { const a = document.querySelector('[data-field=download]');
			const r = await fetch(a.href);
			return {Href: a.getAttribute('href'), Download: a.download, Body: await r.text(), Disposition: r.headers.get('Content-Disposition')}; })()`)
		want := link{"api/programs/numbers/logs/download?file=1", "numbers.log.1", backup[1], `attachment; filename="numbers.log.1"`}
		if got != want {
			t.Errorf("the Download link of backup 1 is %+v; want %+v", got, want)
		}
	})

	matchesJS := `[...document.querySelectorAll('[data-field=matches] [data-match]')]`
	search := func(tb *tab, q string, regex bool) {
		tb.t.Helper()
		if regex {
			tb.click("Regex", `document.querySelector('[data-field=regex]')`)
		}
		tb.do("search for "+q, chromedp.SendKeys(chromedp.CSS(`[data-field=search]`), q+"\r"))
		tb.waitJS("the search's answer", `document.querySelector('[data-field=search-info]').textContent.includes('match')`,
			`document.querySelector('[data-field=search-info]').textContent`)
	}

	t.Run("search lists matches in every file, highlighted", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		search(tb, "needle|line 499$", true)
		type match struct{ At, Text, Marked string }
		got := eval[[]match](tb, matchesJS+`.map((b) => ({At: b.querySelector('.match-at').textContent,
			Text: b.querySelector('.match-text').textContent, Marked: [...b.querySelectorAll('mark')].map((m) => m.textContent).join('|')}))`)
		want := []match{{"numbers.log:499", "line 499", "line 499"}, {"numbers.log.1:77", "b1 tock 77 Needle here", "Needle"},
			{"numbers.log.2:5", "b2 tock 5 Needle here", "Needle"}}
		if !slices.Equal(got, want) {
			t.Errorf("the search lists %+v; want %+v", got, want)
		}

		tb.click("the match in backup 1", matchesJS+`[1]`)
		tb.waitJS("line 77 of backup 1 highlighted", `document.querySelector('[data-field=lines] .hl')?.dataset.line === '77' && `+
			infoJS+`.includes('numbers.log.1')`, infoJS)
		if !eval[bool](tb, lineInViewJS(`document.querySelector('[data-field=lines] .hl')`)) {
			t.Errorf("the highlighted line is not scrolled into view")
		}
		if text := eval[string](tb, `document.querySelector('[data-field=lines] .hl').textContent`); text != "b1 tock 77 Needle here" {
			t.Errorf("the highlighted line reads %q; want %q", text, "b1 tock 77 Needle here")
		}
	})

	t.Run("More goes on with the search", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		search(tb, "TOCK", false)
		if n := eval[int](tb, matchesJS+`.length`); n != 100 {
			t.Fatalf("the search for TOCK lists %d matches; want the first 100", n)
		}
		tb.click("More", `document.querySelector('[data-action=more]')`)
		tb.waitJS("200 matches", matchesJS+`.length === 200`, `String(`+matchesJS+`.length)`)
		got := eval[[]string](tb, `[`+matchesJS+`[99], `+matchesJS+`[100]].map((b) => b.querySelector('.match-at').textContent)`)
		if want := []string{"numbers.log.1:251", "numbers.log.1:250"}; !slices.Equal(got, want) {
			t.Errorf("matches 100 and 101 are %q; want %q", got, want)
		}
	})

	t.Run("go to line", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 1)
		tb.do("go to line 123", chromedp.SendKeys(chromedp.CSS(`[data-field=goto]`), "123\r"))
		tb.waitJS("line 123 highlighted", `document.querySelector('[data-field=lines] .hl')?.dataset.line === '123'`, infoJS)
		if !eval[bool](tb, lineInViewJS(`document.querySelector('[data-field=lines] .hl')`)) {
			t.Errorf("line 123 is not scrolled into view")
		}
		if text := eval[string](tb, `document.querySelector('[data-field=lines] .hl').textContent`); text != "line 123" {
			t.Errorf("the highlighted line reads %q; want %q", text, "line 123")
		}
		tb.do("go to line 9999", chromedp.SetValue(chromedp.CSS(`[data-field=goto]`), "9999"),
			chromedp.Click(chromedp.CSS(`[data-form=goto] button`)))
		tb.waitJS("an error for line 9999", `document.querySelector('[data-field=logs-error]').textContent.includes('lines 1 to')`,
			`document.querySelector('[data-field=logs-error]').textContent`)
	})
}

// lineInViewJS is true when the element the expression gives is within the
// visible part of the log lines.
func lineInViewJS(elem string) string {
	return `(() => { const e = ` + elem + `, box = document.querySelector('[data-field=lines]').getBoundingClientRect();
		const r = e.getBoundingClientRect(); return r.top >= box.top - 1 && r.bottom <= box.bottom + 1; })()`
}
