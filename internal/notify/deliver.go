package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
)

// Message is what a notification says: the JSON body of a webhook, and the
// values of a command's placeholders.
type Message struct {
	Program string `json:"program"` // "" for a test notification
	Event   string `json:"event"`   // broken, crashed, unhealthy, recovered, install_failed or test
	Time    string `json:"time"`    // RFC 3339
	Detail  string `json:"detail"`
	Host    string `json:"host"`
	// Text is one sentence for people, which Slack- and Mattermost-style
	// incoming webhooks show as it is.
	Text string `json:"text"`
}

// message words out for people.
func (n *Notifier) message(out *outgoing) *Message {
	detail := out.Detail
	if out.more > 0 {
		detail += fmt.Sprintf(" (and %d more since %s)", out.more, out.since.Local().Format("15:04:05"))
	}
	m := &Message{Program: out.Program, Event: out.Event, Time: out.Time.Format(time.RFC3339), Detail: detail, Host: n.opts.Host}
	what := map[string]string{
		config.NotifyBroken:        "is broken",
		config.NotifyCrashed:       "crashed",
		config.NotifyUnhealthy:     "is unhealthy",
		config.NotifyRecovered:     "has recovered",
		config.NotifyInstallFailed: "could not be installed",
	}[out.Event]
	switch {
	case out.Event == "test":
		m.Text = fmt.Sprintf("Test notification from pyvisor on %s: notifications work.", m.Host)
	case detail == "":
		m.Text = fmt.Sprintf("%s on %s %s.", out.Program, m.Host, what)
	default:
		m.Text = fmt.Sprintf("%s on %s %s: %s.", out.Program, m.Host, what, detail)
	}
	return m
}

// describe names target i without its secrets: a webhook's URL without its
// path (which holds the token of Slack-style hooks), a command's program.
func describe(t *config.Notify, i int) string {
	if t.Webhook != "" {
		if u, err := url.Parse(t.Webhook); err == nil {
			return fmt.Sprintf("notify[%d]: webhook %s://%s/…", i, u.Scheme, u.Host)
		}
		return fmt.Sprintf("notify[%d]: webhook", i)
	}
	return fmt.Sprintf("notify[%d]: command %s", i, t.Command[0])
}

// deliver sends msg to t: a webhook, tried again after failures that may pass
// when retry is set; a command, run once.
func (n *Notifier) deliver(ctx context.Context, t *config.Notify, msg *Message, retry bool) error {
	if t.Command != nil {
		return n.runCommand(ctx, t.Command, msg)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode the message: %w", err)
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		again, err := n.post(ctx, t.Webhook, body)
		if err == nil {
			return nil
		}
		wait, ok := retryAfter(attempt, n.opts.FirstRetry, n.opts.RetryFor, start, time.Now())
		if !again || !retry || !ok {
			if attempt > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// post sends one webhook request; again says whether a failure may pass.
func (n *Notifier) post(ctx context.Context, hook string, body []byte) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("make the request: %w", withoutURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pyvisor")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return true, fmt.Errorf("no answer within %s", n.opts.Timeout)
		}
		return true, withoutURL(err)
	}
	defer resp.Body.Close()
	// A little of the answer says why it was refused; the rest is not needed.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	msg := fmt.Sprintf("answered %s", resp.Status)
	if a := strings.TrimSpace(string(answer)); a != "" {
		msg += ": " + a
	}
	return retryable(resp.StatusCode), errors.New(msg)
}

// withoutURL drops the URL a *url.Error repeats: a webhook's URL holds its secret.
func withoutURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// runCommand runs argv with msg's placeholders filled in, in a process group
// of its own, killed with its group after the timeout.
func (n *Notifier) runCommand(ctx context.Context, argv []string, msg *Message) error {
	r := strings.NewReplacer("{program}", msg.Program, "{event}", msg.Event, "{detail}", msg.Detail, "{time}", msg.Time)
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = r.Replace(a)
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// Its own group, so that a timeout ends whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that outlives the kill must not hold the output pipe open forever.
	cmd.WaitDelay = time.Second
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() == context.DeadlineExceeded:
		err = fmt.Errorf("killed after %s", n.opts.Timeout)
	}
	if s := strings.TrimSpace(string(out.b)); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// tail keeps the last bytes written to it: the end of a command's output is
// where it says what went wrong.
type tail struct{ b []byte }

const tailBytes = 300

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBytes {
		t.b = t.b[len(t.b)-tailBytes:]
	}
	return len(p), nil
}
