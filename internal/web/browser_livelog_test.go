package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// tickerPy writes "line 1" to "line 3" at once, then the next numbered line
// every 40 ms from a SIGUSR1 until a SIGUSR2.
const tickerPy = `import signal, time
n = 0
def write():
    global n
    n += 1
    print(f"line {n}", flush=True)
for _ in range(3):
    write()
on = False
def turn(signum, frame):
    global on
    on = signum == signal.SIGUSR1
signal.signal(signal.SIGUSR1, turn)
signal.signal(signal.SIGUSR2, turn)
while True:
    # The loop looks at the flag: signal.pause() could miss a SIGUSR1 that
    # comes between the look and the pause.
    time.sleep(0.04)
    if on:
        write()
`

// restartableServer serves a handler configured by NewServer on a 127.0.0.1
// port that stays the same when it is stopped and started again, as the
// manager's own restart does: the clients' streams end, their reconnections
// are refused until it is back.
type restartableServer struct {
	t    *testing.T
	h    http.Handler
	addr string
	srv  *http.Server // nil while stopped
	done chan error   // Serve's result
}

// serveRestartable starts serving h; cleanup stops it.
func serveRestartable(t *testing.T, h http.Handler) *restartableServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	s := &restartableServer{t: t, h: h, addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(func() {
		if s.srv != nil {
			s.stop()
		}
	})
	return s
}

func (s *restartableServer) url() string { return "http://" + s.addr + "/" }

func (s *restartableServer) serve(ln net.Listener) {
	s.srv = NewServer(s.addr, s.h)
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
}

// stop shuts the server down as the manager does when it stops: Shutdown
// ends the event streams and closes every connection once its request ended.
func (s *restartableServer) stop() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Fatalf("shut down the server on %s: %v", s.addr, err)
	}
	if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
		s.t.Fatalf("serve on %s returned %v; want http.ErrServerClosed", s.addr, err)
	}
	s.srv = nil
}

// start serves again on the same address.
func (s *restartableServer) start() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// logLines returns the lines of the program's log file.
func (f *fixture) logLines(t *testing.T, name string) []string {
	t.Helper()
	path, err := f.sup.LogPath(name)
	if err != nil {
		t.Fatalf("LogPath(%q): %v", name, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the log of %q: %v", name, err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// shownLine is one line of the log viewer: the number it shows and its text.
type shownLine struct {
	Number int
	Text   string
}

// shownLinesJS lists the viewer's lines as shownLine values.
const shownLinesJS = linesJS + `.map((d) => ({Number: +d.dataset.line, Text: d.textContent}))`

// lineNumber is N of a line "line N".
func lineNumber(text string) (int, bool) {
	s, ok := strings.CutPrefix(text, "line ")
	n, err := strconv.Atoi(s)
	return n, ok && err == nil
}

func lineRange(from, to int) string {
	if from == to {
		return fmt.Sprintf("line %d", from)
	}
	return fmt.Sprintf("lines %d to %d", from, to)
}

// checkNumbered says how lines fall short of "line first" to "line last" in
// order, each shown with its own number: "" if they do not.
func checkNumbered(lines []shownLine, first, last int) string {
	var problems []string
	var misnumbered int
	var firstWrong string
	want := first
	for _, l := range lines {
		n, ok := lineNumber(l.Text)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("a line %q", l.Text))
			continue
		case n < want:
			problems = append(problems, fmt.Sprintf("line %d again after line %d", n, want-1))
		case n > want:
			problems = append(problems, lineRange(want, n-1)+" missing")
		}
		if l.Number != n {
			if misnumbered == 0 {
				firstWrong = fmt.Sprintf("%q numbered %d", l.Text, l.Number)
			}
			misnumbered++
		}
		want = n + 1
	}
	if want <= last {
		problems = append(problems, lineRange(want, last)+" missing at the end")
	}
	if len(problems) > 8 {
		problems = append(problems[:8], fmt.Sprintf("and %d more", len(problems)-8))
	}
	if misnumbered > 0 {
		problems = append(problems, fmt.Sprintf("lines numbered unlike their text: %d, the first %s", misnumbered, firstWrong))
	}
	return strings.Join(problems, "; ")
}

// TestBrowserLiveLogReconnect follows a log that a program keeps writing to,
// while the server stops (the streams end) and starts again on the same
// port: once EventSource has reconnected, the viewer must show every line,
// those written while the stream was down included, each once and with its
// own number.
func TestBrowserLiveLogReconnect(t *testing.T) {
	chromiumPath(t) // skip before starting programs, not after
	dir := writeScripts(t, map[string]string{"ticker.py": tickerPy})
	f := newFixture(t, `
programs:
  - name: ticker
    script: `+scriptPath(dir, "ticker.py")+`
`)
	f.waitFor(t, "ticker", "running", inState(supervisor.Running))
	f.waitLog(t, "ticker", "line 3\n")
	srv := serveRestartable(t, f.h)
	tb := newTab(t, startBrowser(t))
	st, err := f.sup.Status("ticker")
	if err != nil {
		t.Fatalf("Status(ticker): %v", err)
	}
	send := func(sig syscall.Signal) {
		t.Helper()
		if err := syscall.Kill(st.PID, sig); err != nil {
			t.Fatalf("kill(%d, %v): %v", st.PID, sig, err)
		}
	}
	lastShown := `(+` + linesJS + `.at(-1)?.dataset.line || 0)`
	hasLine := func(n int) string { return linesJS + `.some((d) => d.textContent === 'line ` + strconv.Itoa(n) + `')` }

	tb.openLogs(srv.url(), "ticker", 1)
	tb.click("Auto-refresh", `document.querySelector('[data-field=follow]')`)
	// The stream starts with page 1; once it shows, the info counts live lines.
	tb.waitJS("the live log to start", infoJS+`.includes('live: 0 new lines')`, infoJS)
	send(syscall.SIGUSR1)
	tb.waitJS("live lines up to line 10", lastShown+` >= 10`, infoJS)

	srv.stop()
	downFrom := len(f.logLines(t, "ticker")) + 1 // no stream can carry this line or later ones
	tb.waitJS("the dashboard to see the server gone",
		`document.querySelector('[data-field=connection]').dataset.conn !== 'live'`, `'still live'`)
	waitUntil(t, "15 lines written while the server is down",
		func() bool { return len(f.logLines(t, "ticker")) >= downFrom+15 },
		func() string { return fmt.Sprintf("the log has %d lines", len(f.logLines(t, "ticker"))) })
	if eval[bool](tb, hasLine(downFrom)) {
		t.Fatalf("the viewer shows line %d, written after the server stopped", downFrom)
	}

	srv.start()
	upAt := len(f.logLines(t, "ticker"))
	// The program goes on writing while EventSource reconnects and page 1 is
	// read again: lines written meanwhile must show once, not twice or never.
	tb.waitJS(fmt.Sprintf("a line past line %d, written after the restart, to show", upAt+10),
		linesJS+`.some((d) => +d.textContent.slice('line '.length) > `+strconv.Itoa(upAt+10)+`)`, infoJS)
	send(syscall.SIGUSR2)

	// The program may write one more line after the SIGUSR2; the viewer
	// shows the whole log once its last line shows.
	var shown []shownLine
	var last int
	waitUntil(t, "the viewer to show the log's last line", func() bool {
		last = len(f.logLines(t, "ticker"))
		shown = eval[[]shownLine](tb, shownLinesJS)
		return len(shown) > 0 && shown[len(shown)-1].Text == fmt.Sprintf("line %d", last)
	}, func() string {
		return fmt.Sprintf("the log has %d lines; the viewer's info: %s", last, eval[string](tb, infoJS))
	})
	// Page 1 holds 200 lines: the first of them is line 1 unless the
	// reconnection took long, but it must come before the lines written
	// while the server was down.
	first := downFrom
	if n, ok := lineNumber(shown[0].Text); ok {
		first = min(n, downFrom)
	}
	t.Logf("the log had %d lines when the server had stopped, %d when it started again, %d in the end; the viewer shows from %q",
		downFrom-1, upAt, last, shown[0].Text)
	if problems := checkNumbered(shown, first, last); problems != "" {
		t.Errorf("the log had %d lines when the server had stopped, %d when it started again and %d in the end; "+
			"the viewer shows %d lines from %q to %q: %s; want lines %d to %d, each once and numbered as its text",
			downFrom-1, upAt, last, len(shown), shown[0].Text, shown[len(shown)-1].Text, problems, first, last)
	}
	// After three failed reconnections the program rows are polled, which
	// is recovered too.
	tb.waitJS("the program rows to be updated again",
		`['live', 'polling'].includes(document.querySelector('[data-field=connection]').dataset.conn)`,
		`document.querySelector('[data-field=connection]').dataset.conn`)
}

// TestCheckNumbered checks the checker of TestBrowserLiveLogReconnect: it
// must see a gap, a repeat and a wrong number.
func TestCheckNumbered(t *testing.T) {
	l := func(number, n int) shownLine { return shownLine{Number: number, Text: fmt.Sprintf("line %d", n)} }
	tests := []struct {
		name  string
		lines []shownLine
		want  string
	}{
		{"all there", []shownLine{l(1, 1), l(2, 2), l(3, 3)}, ""},
		{"a gap", []shownLine{l(1, 1), l(3, 3)}, "line 2 missing"},
		{"the start missing", []shownLine{l(2, 2), l(3, 3)}, "line 1 missing"},
		{"a gap, numbered on", []shownLine{l(1, 1), l(2, 3)},
			"line 2 missing; lines numbered unlike their text: 1, the first \"line 3\" numbered 2"},
		{"a repeat", []shownLine{l(1, 1), l(2, 2), l(3, 2), l(4, 3)},
			"line 2 again after line 2; lines numbered unlike their text: 2, the first \"line 2\" numbered 3"},
		{"the end missing", []shownLine{l(1, 1)}, "lines 2 to 3 missing at the end"},
		{"nothing", nil, "lines 1 to 3 missing at the end"},
		{"another text", []shownLine{l(1, 1), {Number: 2, Text: "hello"}, l(3, 2), l(4, 3)},
			"a line \"hello\"; lines numbered unlike their text: 2, the first \"line 2\" numbered 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkNumbered(tt.lines, 1, 3); got != tt.want {
				t.Errorf("checkNumbered(%v, 1, 3) = %q; want %q", tt.lines, got, tt.want)
			}
		})
	}
}
