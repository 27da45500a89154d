package web

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// injectingPy prints markup that would run script if shown as HTML.
const injectingPy = `import time
print("<img src=x onerror=alert(1)>", flush=True)
print("<script>alert(2)</script>", flush=True)
while True:
    time.sleep(3600)
`

// responseLog records the headers of every response a tab receives,
// redirects included, by URL.
type responseLog struct {
	mu  sync.Mutex
	csp map[string][]string // URL -> the Content-Security-Policy of each response ("" if none)
}

func (l *responseLog) add(url string, h network.Headers) {
	csp := ""
	for k, v := range h {
		if strings.EqualFold(k, "Content-Security-Policy") {
			csp = fmt.Sprint(v)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.csp[url] = append(l.csp[url], csp)
}

func (l *responseLog) snapshot() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for k, v := range l.csp {
		out[k] = slices.Clone(v)
	}
	return out
}

// recordResponses starts recording the responses of tb; the recording ends
// with the tab.
func recordResponses(tb *tab) *responseLog {
	l := &responseLog{csp: map[string][]string{}}
	responses := chromedp.Events(tb.ctx, network.ResponseReceived)
	requests := chromedp.Events(tb.ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			l.add(ev.Response.URL, ev.Response.Headers)
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			if r := ev.RedirectResponse; r != nil {
				l.add(r.URL, r.Headers)
			}
		}
	}()
	return l
}

// waitNav is waitJS for a condition that holds once a navigation (a form
// submitted, a redirect) is over: a poll cut short by the navigation is
// started again on the new page, until waitTimeout.
func (tb *tab) waitNav(what, cond, show string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := tb.within()
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(max(time.Until(deadline), pollEvery))))
		cancel()
		if err == nil {
			return
		}
		// The poll's page went away under it ("navigated or closed", "cannot
		// find context"): poll the new one.
		if time.Now().Before(deadline) {
			time.Sleep(pollEvery) // the new page gives no notice that it can be polled
			continue
		}
		tb.t.Fatalf("waiting for %s (%s): %v\nthe page shows: %s", what, cond, err, eval[string](tb, show))
	}
}

// TestBrowserLogin logs in through the login page (after a wrong password),
// uses the dashboard, and logs out; markup in a program's name and log lines
// never runs, and every response carries the CSP.
func TestBrowserLogin(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	dir := writeScripts(t, map[string]string{"injecting.py": injectingPy})
	af := newAuthFixture(t, `
restart:
  delay_seconds: 0.1
programs:
  - name: "`+markupName+`"
    script: `+scriptPath(dir, "injecting.py")+`
  - name: "<svg onload=alert(3)>"
    script: sleeper.py
    enabled: false
`)
	af.waitFor(t, markupName, "running", inState(supervisor.Running))
	af.waitLog(t, markupName, "<script>alert(2)</script>")
	browser := startBrowser(t)
	tb := newTab(t, browser)
	responses := recordResponses(tb)
	const (
		messageJS = `(document.querySelector('[data-field=login-message]') || {textContent: ''}).textContent`
		noMarkup  = `document.querySelectorAll('img, svg:not([class]), script:not([src])').length === 0`
	)
	logIn := func(password string) {
		tb.do("log in", chromedp.SendKeys(chromedp.CSS(`[data-field=username]`), "admin"),
			chromedp.SendKeys(chromedp.CSS(`[data-field=password]`), password))
		tb.click("Log in", `document.querySelector('[data-action=login]')`)
	}

	t.Run("the dashboard sends to the login page", func(t *testing.T) {
		tb.t = t
		tb.do("open the dashboard", chromedp.Navigate(af.url+"/"))
		tb.waitNav("the login page", `location.pathname === '/login' && !!document.querySelector('[data-field=password]')`, `location.href`)
		got := eval[[]string](tb, `[location.search, document.querySelector('[data-field=title]').textContent, String(`+noMarkup+`)]`)
		want := []string{"?next=%2F", "Test <b>board</b>", "true"}
		if !slices.Equal(got, want) {
			t.Errorf("the login page shows [query, title, no markup] %q; want %q", got, want)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		tb.t = t
		logIn("not the password")
		tb.waitNav("the failure message", messageJS+` === 'Invalid username or password.'`, messageJS)
		if got := eval[string](tb, `location.search`); got != "?failed=1&next=%2F" {
			t.Errorf("after a wrong password the page is at %q; want ?failed=1&next=%%2F", got)
		}
	})

	t.Run("log in and use the dashboard", func(t *testing.T) {
		tb.t = t
		logIn(testPassword)
		tb.waitNav("the dashboard with its rows, live", `location.pathname === '/' && `+
			`document.querySelectorAll('article[data-program]').length === 2 && `+
			`document.querySelector('[data-field=connection]').dataset.conn === 'live'`, `location.href + ' ' + `+rowsStateJS)
		tb.waitJS("the user and Log out", `!document.querySelector('[data-form=logout]').hidden`, `'hidden'`)
		if u := eval[string](tb, `document.querySelector('[data-field=user]').textContent`); u != "admin" {
			t.Errorf("the header shows the user %q, want admin", u)
		}
		// An action is a POST with the session cookie and the page's Origin.
		tb.click("Restart of "+markupName, buttonJS(markupName, "restart"))
		tb.waitJS("the restart to be done", rowJS(markupName)+`.getAttribute('aria-busy') !== 'true' && `+
			rowJS(markupName)+`.dataset.state === 'running'`, rowsStateJS)
		if st, _ := af.sup.Status(markupName); st.RestartCount < 1 {
			t.Errorf("after Restart in the dashboard the program has %d restarts, want 1", st.RestartCount)
		}
		tb.click("Logs of "+markupName, buttonJS(markupName, "logs"))
		text := linesJS + `.map((d) => d.textContent)`
		tb.waitJS("the log lines", text+`.includes('<script>alert(2)</script>')`, `JSON.stringify(`+text+`)`)
		lines := eval[[]string](tb, text)
		if !slices.Contains(lines, "<img src=x onerror=alert(1)>") || !eval[bool](tb, noMarkup) {
			t.Errorf("the log viewer shows %q (no img or inline script: %v); want the markup as text",
				lines, eval[bool](tb, noMarkup))
		}
		names := eval[[]string](tb, `[...document.querySelectorAll('article [data-field=name]')].map((e) => e.textContent)`)
		if !slices.Equal(names, []string{markupName, "<svg onload=alert(3)>"}) {
			t.Errorf("the rows show the names %q; want the markup as text", names)
		}
		tb.click("close the viewer", dialogJS+`.querySelector('[data-action=close]')`)
		tb.checkNoDialogs()
	})

	t.Run("log out", func(t *testing.T) {
		tb.t = t
		tb.click("Log out", `document.querySelector('[data-action=logout]')`)
		tb.waitNav("the login page saying so", `location.pathname === '/login' && `+messageJS+` === 'You have logged out.'`,
			`location.href + ' ' + `+messageJS)
		tb.do("open the dashboard again", chromedp.Navigate(af.url+"/"))
		tb.waitNav("the login page", `location.pathname === '/login' && location.search === '?next=%2F'`, `location.href`)
	})

	t.Run("CSP on every response", func(t *testing.T) {
		got := responses.snapshot()
		// The redirects, the login page, the dashboard and its parts, the API.
		for _, path := range []string{"/", "/login?next=%2F", "/login?loggedout=1", "/logout", "/app.css", "/main.js", "/api/session", "/api/events"} {
			if _, ok := got[af.url+path]; !ok {
				t.Errorf("no response for %s was seen; seen: %q", path, keys(got))
			}
		}
		n := 0
		for url, csps := range got {
			for _, csp := range csps {
				n++
				if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("a response for %s has the CSP %q", url, csp)
				}
			}
		}
		if n < 10 {
			t.Errorf("only %d responses were seen: %q", n, keys(got))
		}
		var bad []string
		for _, m := range tb.consoleMessages() {
			if strings.Contains(m.Text, "Content Security Policy") || m.IsException() {
				bad = append(bad, m.String())
			}
		}
		if len(bad) > 0 {
			t.Errorf("the pages caused CSP violations or exceptions: %q", bad)
		}
	})
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestBrowserLoginSecureCookie logs in with web_ui.secure_cookies: true, as
// behind a proxy that serves HTTPS: the browser keeps the Secure
// __Host-pyvisor_session cookie and the dashboard works with it. The page is
// served over plain HTTP on 127.0.0.1, which Chromium, like every current
// browser, counts as a secure context that may set Secure cookies.
func TestBrowserLoginSecureCookie(t *testing.T) {
	chromiumPath(t)
	af := newAuthFixture(t, baseConfig)
	a, err := auth.New(af.creds, auth.Options{SessionLifetime: testLifetime, Now: af.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, NewHandler(Options{Supervisor: af.sup, Logger: slog.New(af.audit), Auth: a, SecureCookies: CookiesAlwaysSecure}))
	// The dashboard's Host and Origin checks know 127.0.0.1.
	tb := newTab(t, startBrowser(t))
	tb.do("open the dashboard", chromedp.Navigate(srv.URL+"/"))
	tb.waitNav("the login page", `location.pathname === '/login' && !!document.querySelector('[data-field=password]')`, `location.href`)
	tb.do("log in", chromedp.SendKeys(chromedp.CSS(`[data-field=username]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`[data-field=password]`), testPassword))
	tb.click("Log in", `document.querySelector('[data-action=login]')`)
	tb.waitNav("the dashboard, logged in", `location.pathname === '/' && `+
		`document.querySelector('[data-field=user]').textContent === 'admin'`, `location.href`)

	ctx, cancel := tb.within()
	defer cancel()
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("Network.getCookies: %v", err)
	}
	var names []string
	for _, ck := range got.Cookies {
		names = append(names, ck.Name)
		if ck.Name == "__Host-"+sessionCookie && (!ck.Secure || !ck.HTTPOnly || ck.Path != "/") {
			t.Errorf("the browser keeps the session cookie as %+v; want Secure, HttpOnly, Path=/", ck)
		}
	}
	if !slices.Equal(names, []string{"__Host-" + sessionCookie}) {
		t.Errorf("the browser keeps the cookies %q; want only __Host-%s", names, sessionCookie)
	}
}
