// Package probe carries out one health check of a program: an HTTP GET, a TCP connection or a command, each
// within a time limit, and says whether it passed and, if not, why. It holds no state between checks and
// decides nothing: what a failure leads to is the supervisor's business.
package probe

import (
	"bufio"
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
}

// Prober runs checks. Its methods are safe for concurrent use.
type Prober struct {
	client *http.Client
}

// New returns a Prober.
func New() *Prober {
	return &Prober{client: &http.Client{
		// A new connection for each check: an idle connection kept per program would be a descriptor and
		// a goroutine in the manager between checks, for a saving the interval makes negligible; and a
		// check should see what a new client sees.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, ResponseHeaderTimeout: 0},
		// A redirect is an answer: 3xx passes, and following it would check some other service.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// HTTP sends a GET to rawURL: it passes on a 2xx or 3xx status within timeout.
func (p *Prober) HTTP(ctx context.Context, rawURL string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	req.Header.Set("User-Agent", "pyvisor-health-check")
	if req.URL.Scheme == "http" {
		return plainHTTP(ctx, req, timeout)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return failure(ctx, timeout, err)
	}
	// Some of the body, so that a server writing it does not see a reset; not all of it, which could be long.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return Result{Detail: "HTTP " + resp.Status}
	}
	return Result{OK: true}
}

// plainHTTP sends req over a connection of its own and reads the status line and headers of the answer.
// It does what the Transport would for one request without keep-alive, with a fraction of its
// allocations and goroutines: checks of many programs are a good part of an idle manager's work.
func plainHTTP(ctx context.Context, req *http.Request, timeout time.Duration) Result {
	var d net.Dialer
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return failure(ctx, timeout, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	req.Close = true // "Connection: close"
	if err := req.Write(conn); err != nil {
		return failure(ctx, timeout, err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), req)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return Result{Detail: fmt.Sprintf("no answer within %s", timeout)}
		}
		return Result{Detail: err.Error()}
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return Result{Detail: "HTTP " + resp.Status}
	}
	return Result{OK: true}
}

// TCP opens a connection to addr (host:port) and closes it: it passes if the connection opens within timeout.
func (p *Prober) TCP(ctx context.Context, addr string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return failure(ctx, timeout, err)
	}
	conn.Close()
	return Result{OK: true}
}

// failure describes err, or the timeout when ctx ran out.
func failure(ctx context.Context, timeout time.Duration, err error) Result {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Result{Detail: fmt.Sprintf("no answer within %s", timeout)}
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
// the command ends, or when the timeout or ctx ends it, whatever is left of its process group is killed, so
// a check never leaves processes behind.
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
	// Kill the group: a command that timed out, or children it left behind that still hold the output open.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := pr.Stop(stopCtx, syscall.SIGKILL, 0); err != nil && res.OK {
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
