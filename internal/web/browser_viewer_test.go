package web

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// colouredPy sets red on one line and resets it two lines later, then
// writes a line long enough to wrap on any screen.
const colouredPy = `import time
print("\x1b[31mred begins", flush=True)
print("still red", flush=True)
print("\x1b[0mplain again", flush=True)
print(" ".join(f"word{i}" for i in range(200)), flush=True)
while True:
    time.sleep(3600)
`

// TestBrowserViewerDetails checks the log viewer: the range it names while
// following, colours across lines, and on every screen the line numbers and
// the indent of wrapped lines.
func TestBrowserViewerDetails(t *testing.T) {
	dir := writeScripts(t, map[string]string{"numbered.py": numberedPy, "coloured.py": colouredPy})
	d := newBrowserDashboard(t, `
programs:
  - name: numbers
    script: `+scriptPath(dir, "numbered.py")+`
    args: ["5"]
  - name: colours
    script: `+scriptPath(dir, "coloured.py")+`
`)
	d.waitFor(t, "numbers", "running", inState(supervisor.Running))
	d.waitLog(t, "numbers", "line 5\n")
	d.waitLog(t, "colours", "word199")

	t.Run("following live, the range grows", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "numbers", 2)
		followUntilNewLine(t, tb, d.pid(t, "numbers"))
		last := eval[int](tb, `+`+linesJS+`.at(-1).dataset.line`)
		want := fmt.Sprintf("lines 1–%d of %d", last, last)
		tb.waitJS("the info to name the lines shown", infoJS+`.includes(`+jsString(want)+`)`, infoJS)
	})

	t.Run("a colour holds on the next lines until reset", func(t *testing.T) {
		tb := newTab(t, d.browser)
		tb.openLogs(d.url, "colours", 2)
		got := eval[[]string](tb, linesJS+`.slice(0, 3).map((d) => d.textContent + ': ' + [...d.querySelectorAll('span')].map((s) => s.className).join())`)
		want := []string{"red begins: a-f1", "still red: a-f1", "plain again: "}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("the viewer shows the coloured lines as %q; want %q", got, want)
		}
	})

	for _, vp := range viewports {
		t.Run("numbers and hanging indent at "+vp.name, func(t *testing.T) {
			tb := newTab(t, d.browser)
			tb.do("set the screen size", chromedp.EmulateViewport(vp.width, vp.height))
			tb.openLogs(d.url, "colours", 2)
			type wrapped struct {
				Number     string  // the line number shown before the line
				Rows       int     // lines the text wraps to
				Lefts      []int   // where each of them starts
				LineLeft   float64 // the left of the line's box
				NumberLeft float64 // where the number column ends
			}
			got := eval[wrapped](tb, `(() => {
				const d = `+linesJS+`[3], before = getComputedStyle(d, '::before');
				const r = document.createRange(); r.selectNodeContents(d);
				const starts = new Map(); // row top -> where its text starts
				for (const x of r.getClientRects()) {
					const top = Math.round(x.top);
					if (x.width > 0) starts.set(top, Math.min(starts.get(top) ?? Infinity, Math.round(x.left)));
				}
				const lefts = [...new Set(starts.values())], rows = starts.size;
				return {Number: before.display === 'none' ? '' : before.content, Rows: rows, Lefts: lefts,
					LineLeft: d.getBoundingClientRect().left, NumberLeft: d.getBoundingClientRect().left + parseFloat(getComputedStyle(d).paddingLeft)};
			})()`)
			if got.Number != `"4"` || got.Rows < 2 || len(got.Lefts) != 1 || float64(got.Lefts[0]) < got.NumberLeft-1 {
				t.Errorf("at %s the long line 4 shows %+v; want its number \"4\" shown, and wrapped rows that all start after the number column",
					vp.name, got)
			}
		})
	}
}

// TestBrowserUploadTooLarge picks a ZIP over the server's limit: the dialog
// refuses it at once, naming both sizes, and sends nothing.
func TestBrowserUploadTooLarge(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	f := newUploadFixture(t, uploadConfig, UploadOptions{MaxZipBytes: 2048})
	srv := serve(t, f.h)
	d := &browserDashboard{fixture: f, url: srv.URL + "/", browser: startBrowser(t)}
	zipPath := filepath.Join(t.TempDir(), "big.zip")
	noise := make([]byte, 4096) // random: it does not compress
	rand.Read(noise)
	data := zipOf(t, zipEntry{name: "app.py", body: demoPy}, zipEntry{name: "data.bin", body: string(noise)})
	if len(data) <= 2048 {
		t.Fatalf("the test's ZIP is %d bytes; it must be over the limit of 2048", len(data))
	}
	if err := os.WriteFile(zipPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, d.browser)
	tb.openDashboard(d.url, 1)
	tb.click("+ Upload Program", `document.querySelector('[data-action=upload]')`)
	tb.waitJS("the upload dialog to open", uploadDialogJS+`.open`, `'closed'`)
	tb.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS(`[data-field=upload-name]`), "big"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=upload-script]`), "app.py"),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-field=upload-file]`), []string{zipPath}))
	// Count the requests the page makes from now on.
	eval[int](tb, `window.__sent = 0; const f = window.fetch; window.fetch = (...a) => { __sent++; return f(...a); }; 1`)
	tb.click("Upload", uploadDialogJS+`.querySelector('button[type=submit]')`)
	tb.waitJS("the refusal in the dialog", `!`+uploadErrorJS+`.hidden`, `JSON.stringify([`+uploadErrorJS+`.textContent, __sent, `+uploadDialogJS+`.open])`)
	msg := eval[string](tb, uploadErrorJS+`.textContent`)
	want := fmt.Sprintf("big.zip is %.1f KiB, larger than the limit of 2.0 KiB: it was not sent.", float64(len(data))/1024)
	if msg != want || eval[int](tb, `__sent`) != 0 || !eval[bool](tb, uploadDialogJS+`.open`) {
		t.Errorf("the dialog shows %q after %d requests (open: %v); want %q, no request, still open",
			msg, eval[int](tb, `__sent`), eval[bool](tb, uploadDialogJS+`.open`), want)
	}
	if _, err := f.sup.Status("big"); err == nil {
		t.Errorf("the supervisor has a program big; the upload must not have been sent")
	}
}
