package web

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// screenshotPath is set by the test flag -screenshot; only flag parsing writes it.
var screenshotPath = flag.String("screenshot", "",
	"write a PNG of the dashboard to this path, and one of its phone layout beside it (TestDashboardScreenshot)")

// The example programs of the screenshot: what a user of pyvisor runs.
const (
	webStubPy = `import random, sys, time
print("Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ...", flush=True)
paths = ["/", "/api/orders", "/api/orders/1042", "/api/customers?page=2", "/static/app.js", "/healthz"]
while True:
    time.sleep(random.uniform(0.2, 1.2))
    status = random.choice([200] * 12 + [304, 404])
    stamp = time.strftime("%d/%b/%Y %H:%M:%S")
    print(f'10.0.0.{random.randint(2, 254)} - - [{stamp}] "GET {random.choice(paths)} HTTP/1.1" {status} -', flush=True)
`
	// workerPy's CPU use follows a slow wave, so that its sparkline has a shape.
	workerPy = `import math, time
start, batch = time.time(), 0
while True:
    load = 0.35 + 0.3 * math.sin((time.time() - start) / 2.5)
    end = time.time() + 0.5 * load
    while time.time() < end:
        pass
    time.sleep(0.5 * (1 - load))
    batch += 1
    if batch % 4 == 0:
        print(f"processed batch {batch}: {int(400 * load)} thumbnails", flush=True)
`
	mailerPy = `import time
print("mailer: connecting to smtp.example.com:587", flush=True)
time.sleep(0.3)

def connect(host, port):
    raise ConnectionRefusedError(111, f"Connection refused ({host}:{port})")

def main():
    connect("smtp.example.com", 587)

main()
`
	schedulerPy = `import time
print("scheduler: 3 jobs loaded", flush=True)
while True:
    print(time.strftime("%H:%M:%S") + " next run: nightly-report at 02:00", flush=True)
    time.sleep(5)
`
)

// TestDashboardScreenshot makes the README's screenshots of a dashboard with
// realistic programs in groups: a web server, a busy worker, a crashing
// mailer, a scheduler and a stopped report job; the cards (also on a phone),
// the table (dashboard-table.png) and a program's page (program-page.png),
// beside the path given. It runs only when asked:
//
//	go test ./internal/web -run TestDashboardScreenshot -screenshot $PWD/docs/dashboard.png
func TestDashboardScreenshot(t *testing.T) {
	if *screenshotPath == "" {
		t.Skip("makes the README's screenshots only when asked: " +
			"go test ./internal/web -run TestDashboardScreenshot -screenshot $PWD/docs/dashboard.png")
	}
	// A short directory name reads better in the picture than t.TempDir's.
	dir, err := os.MkdirTemp("", "apps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, src := range map[string]string{
		"web.py": webStubPy, "worker.py": workerPy, "mailer.py": mailerPy, "scheduler.py": schedulerPy,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chromiumPath(t)
	f := newFixture(t, `
web_ui:
  title: "Process Manager"
sampling:
  interval_seconds: 1
restart:
  delay_seconds: 1
programs:
  - name: web
    script: `+scriptPath(dir, "web.py")+`
    args: ["--port", "8000"]
    group: Web
  - name: thumbnail-worker
    script: `+scriptPath(dir, "worker.py")+`
    args: ["--queue", "thumbnails"]
    group: Workers
    environment: {QUEUE_URL: "redis://localhost:6379/0"}
  - name: mailer
    script: `+scriptPath(dir, "mailer.py")+`
    group: Workers
    restart:
      max_consecutive_failures: 3
  - name: scheduler
    script: `+scriptPath(dir, "scheduler.py")+`
    group: Jobs
  - name: nightly-report
    script: `+scriptPath(dir, "scheduler.py")+`
    args: ["--once"]
    group: Jobs
    enabled: false
`)
	// As a dashboard on a LAN is seen: logged in, with the reload button.
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Credentials{Username: "admin", PasswordHash: string(hash)}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.h = NewHandler(Options{Supervisor: f.sup, Title: "Process Manager", Auth: authn, Reload: f.reload})
	d := &browserDashboard{fixture: f, url: serve(t, f.h).URL + "/", browser: startBrowser(t)}
	login := newTab(t, d.browser) // the tabs share the browser's cookies
	login.do("log in", chromedp.Navigate(d.url+"login"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=username]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=password]`), testPassword))
	login.click("Log in", `document.querySelector('[data-action=login]')`)
	login.waitNav("the dashboard", `location.pathname === '/'`, `location.href`)

	// Give the sparklines 15 samples; the mailer is broken well before.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := d.sup.Status("thumbnail-worker")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.History) >= 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thumbnail-worker has %d CPU samples after 60 s; want 15", len(st.History))
		}
		time.Sleep(time.Second) // samples come once a second; nothing to wait on here
	}
	d.waitFor(t, "mailer", "broken", inState(supervisor.Broken))

	// prepare readies the page in a tab for its picture.
	shoot := func(path string, width, height int64, prepare func(*tab), opts ...chromedp.EmulateViewportOption) {
		t.Helper()
		tb := newTab(t, d.browser)
		tb.do("set the screen size", chromedp.EmulateViewport(width, height, opts...))
		tb.openDashboard(d.url, 5)
		prepare(tb)
		ctx, cancel := tb.within()
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot at %dx%d: %v", width, height, err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}
	cards := func(tb *tab) {
		tb.waitJS("the mailer's traceback", `!`+rowJS("mailer")+`.querySelector('[data-field=tail]').hidden`, rowsStateJS)
	}
	shoot(*screenshotPath, 1280, 800, cards)
	ext := filepath.Ext(*screenshotPath)
	beside := func(suffix string) string { return filepath.Join(filepath.Dir(*screenshotPath), suffix+ext) }
	// A phone: its scroll bars take no room.
	shoot(strings.TrimSuffix(*screenshotPath, ext)+"-mobile"+ext, 360, 740, cards, chromedp.EmulateMobile)
	// The table view, which the browser then remembers, and a program's page.
	shoot(beside("dashboard-table"), 1280, 560, func(tb *tab) {
		tb.click("the Table view", `document.querySelector('button[data-view=table]')`)
		tb.waitJS("the table", `document.querySelectorAll('.ptable tbody tr:not([hidden])').length === 8`, `''`)
	})
	shoot(beside("program-page"), 1280, 1000, func(tb *tab) {
		tb.do("open the worker's page", chromedp.Navigate(d.url+"#/programs/thumbnail-worker"))
		tb.waitJS("its charts, settings and log", `document.querySelectorAll('.chart polyline.data').length === 2 && `+
			`document.querySelector('[data-field=settings]').textContent.includes('QUEUE_URL') && `+
			`document.querySelector('[data-field=page-log]').textContent.includes('batch')`, `document.querySelector('.page').textContent`)
	})
}
