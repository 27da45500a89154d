// Package probe carries out the health checks of programs: an HTTP GET, a TCP connection or a command, each
// within a time limit, and says whether each passed and, if not, why. It keeps nothing of a check once it
// has ended (on Linux, the engine holds only the checks in flight or due later, a check with Check.Again
// among the latter between its runs) and decides nothing: what a failure leads to is the supervisor's
// business.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
)

// Result is the outcome of one check.
type Result struct {
	// OK means the check passed.
	OK bool
	// Detail says why a check failed: the HTTP status, the error, or the last line a command printed;
	// "" when it passed.
	Detail string
	// Due is when the check was due to begin (Check.At, or Check.Again's answer for a check run again).
	Due time.Time
}

// Prober runs checks. Its methods are safe for concurrent use.
type Prober struct {
	client *http.Client // for https:// checks
	// dialer opens the connections of HTTPS checks, and of plain HTTP and TCP checks where they do not
	// run on the engine (systems other than Linux, and Linux on 386 and s390x), without keep-alive probes: a check's connection lives
	// for milliseconds.
	dialer net.Dialer
}

// New returns a Prober.
func New() *Prober {
	p := &Prober{dialer: net.Dialer{KeepAlive: -1}}
	p.client = &http.Client{
		// A new connection for each check: an idle connection kept per program would be a descriptor and
		// a goroutine in the manager between checks, for a saving the interval makes negligible; and a
		// check should see what a new client sees.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, DialContext: p.dialer.DialContext},
		// A redirect is an answer: 3xx passes, and following it would check some other service.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p
}

// Check is one health check: exactly one of HTTP, TCP and Command is set.
type Check struct {
	// HTTP is a URL to GET: the check passes on a 2xx or 3xx status.
	HTTP string
	// TCP is a host:port to connect to: the check passes once the connection opens.
	TCP string
	// Command is a command to run: the check passes if it exits 0.
	Command *Command
	// Timeout bounds the check.
	Timeout time.Duration
	// At is when the check begins; the zero time (or one past) is at once.
	At time.Time
	// Again, if set, has a check that passes run again instead of sending its result, at Again(due,
	// ended) for the run that was due at due and ended at ended, and so on until one fails or the check's
	// context ends: then that result is sent. It is called on the prober's goroutines, and must not wait.
	//
	// For one who learns nothing from a pass, such as a supervisor whose program is already healthy: the
	// passing checks then cost it nothing, not even a wake-up.
	Again func(due, ended time.Time) time.Time
}

// Start has c run in the background within ctx, at c.At, and sends its result to done, which must have
// room for it. A check whose ctx ends before it begins does not run: its result says so.
//
// A plain http:// or TCP check sends a request or opens a connection and waits, which is most of what it
// takes; on Linux (but 386 and s390x) the waits of all the checks in flight are one, and the checks due
// at the same time begin together (see engine), which costs a fraction of a goroutine, a timer and a wait for each. HTTPS
// and command checks run on a goroutine of their own.
func (p *Prober) Start(ctx context.Context, c Check, done chan<- Result) {
	switch {
	case c.Command != nil:
		later(ctx, c, done, func() Result { return p.Command(ctx, *c.Command, c.Timeout) })
	case c.TCP != "":
		p.startNet(ctx, c, c.TCP, nil, done)
	default:
		u, err := url.Parse(c.HTTP)
		if err != nil {
			done <- Result{Detail: err.Error()}
			return
		}
		if u.Scheme != "http" {
			later(ctx, c, done, func() Result { return p.viaClient(ctx, c.HTTP, c.Timeout) })
			return
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		p.startNet(ctx, c, addr, []byte(request(u)), done)
	}
}

// later calls check on a goroutine of its own at c.At (at once if that has passed) unless ctx has ended
// by then, and sends the result to done; or, while c.Again is set and check passes, calls it again at the
// times Again says.
func later(ctx context.Context, c Check, done chan<- Result, check func() Result) {
	due := c.At
	var run func()
	run = func() {
		if err := ctx.Err(); err != nil {
			res := failure(ctx, c.Timeout, err)
			res.Due = due
			done <- res
			return
		}
		res := check()
		res.Due = due
		if res.OK && c.Again != nil && ctx.Err() == nil {
			due = c.Again(due, time.Now())
			time.AfterFunc(time.Until(due), run)
			return
		}
		done <- res
	}
	if wait := time.Until(c.At); wait > 0 {
		time.AfterFunc(wait, run)
		return
	}
	go run()
}

// HTTP sends a GET to rawURL: it passes on a 2xx or 3xx status within timeout.
func (p *Prober) HTTP(ctx context.Context, rawURL string, timeout time.Duration) Result {
	return p.run(ctx, Check{HTTP: rawURL, Timeout: timeout})
}

// TCP opens a connection to addr (host:port) and closes it: it passes if the connection opens within timeout.
func (p *Prober) TCP(ctx context.Context, addr string, timeout time.Duration) Result {
	return p.run(ctx, Check{TCP: addr, Timeout: timeout})
}

// run runs c and waits for its result.
func (p *Prober) run(ctx context.Context, c Check) Result {
	done := make(chan Result, 1)
	p.Start(ctx, c, done)
	return <-done
}

// viaClient checks an https:// URL (or one of a scheme net/http may know) with net/http's client.
func (p *Prober) viaClient(ctx context.Context, rawURL string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return failure(ctx, timeout, err)
	}
	// Some of the body, so that a server writing it does not see a reset; not all of it, which could be long.
	_, _ = io.CopyN(io.Discard, resp.Body, maxBody)
	resp.Body.Close()
	return verdict(resp.StatusCode, resp.Status)
}

// timedOut is the result of a check that did not end within timeout.
func timedOut(timeout time.Duration) Result {
	return Result{Detail: fmt.Sprintf("no answer within %s", timeout)}
}

// failure describes err, the error of a check within ctx: the timeout or the cancellation when ctx ended.
func failure(ctx context.Context, timeout time.Duration, err error) Result {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return Result{Detail: "canceled"}
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return timedOut(timeout)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // the URL is in the configuration; the cause is what is news
	}
	return Result{Detail: err.Error()}
}

// Command is a command to run as a check.
type Command struct {
	// Args are the executable and its arguments. An executable without a slash is looked up in Env's PATH.
	Args []string
	// Dir is the working directory.
	Dir string
	// Env is the complete environment.
	Env []string
	// Credential is the user to run as; nil means the manager's own.
	Credential *syscall.Credential
}

// maxOutput bounds what is kept of a command's output, to find its last line.
const maxOutput = 4096

// Command runs c in a session and process group of its own: it passes if it exits 0 within timeout. After
// the command ends, or when the timeout or ctx ends it, whatever is left of its process group is killed.
func (p *Prober) Command(ctx context.Context, c Command, timeout time.Duration) Result {
	if len(c.Args) == 0 {
		return Result{Detail: "no command"}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return Result{Detail: fmt.Sprintf("run %q: %v", c.Args[0], err)}
	}
	defer r.Close()
	pr, err := proc.Start(proc.Spec{Path: c.Args[0], Args: c.Args[1:], Dir: c.Dir, Env: c.Env, Output: w, Credential: c.Credential})
	w.Close()
	if err != nil {
		return Result{Detail: err.Error()}
	}
	tail := make(chan string, 1)
	go func() { tail <- lastLine(r) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res Result
	select {
	case <-pr.Done():
		exit := pr.Exit()
		res.OK = exit.Known && exit.Signal == 0 && exit.Code == 0
		if !res.OK {
			res.Detail = exit.String()
		}
	case <-timer.C:
		res.Detail = fmt.Sprintf("still running after %s: killed", timeout)
	case <-ctx.Done():
		res.Detail = "canceled"
	}
	// Kill what is left of the group: a command that timed out, or children it left behind that would hold
	// the output open. Processes that left the group, as a daemon does, are not hunted down as a program's
	// stop does (see proc.Process.KillGroup).
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := pr.KillGroup(stopCtx); err != nil && res.OK {
		res = Result{Detail: err.Error()}
	}
	// A process that escaped the group could hold the pipe open for ever.
	_ = r.SetReadDeadline(time.Now().Add(time.Second))
	if line := <-tail; !res.OK && line != "" {
		res.Detail += ": " + line
	}
	return res
}

// lastLine reads r to its end and returns the last line that is not blank, shortened to at most 200 bytes.
func lastLine(r io.Reader) string {
	buf := make([]byte, 0, maxOutput)
	chunk := make([]byte, 1024)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > maxOutput {
			buf = append(buf[:0], buf[len(buf)-maxOutput:]...)
		}
		if err != nil {
			break
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), " \t\r\n"), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return strings.ToValidUTF8(line, "?")
}
