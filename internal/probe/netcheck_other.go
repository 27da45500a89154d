//go:build !linux || 386 || s390x

package probe

import (
	"context"
	"time"
)

// startNet runs a TCP check (request nil) or a plain HTTP one (request is what to send) of address
// (host:port) on a goroutine of its own, and sends the result to done.
func (p *Prober) startNet(ctx context.Context, c Check, address string, request []byte, done chan<- Result) {
	later(ctx, c, done, func() Result {
		ctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		return p.netCheck(ctx, c.Timeout, address, request)
	})
}

// netCheck runs the check of startNet within ctx.
func (p *Prober) netCheck(ctx context.Context, timeout time.Duration, address string, request []byte) Result {
	conn, err := p.dialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return failure(ctx, timeout, err)
	}
	defer conn.Close()
	if request == nil {
		return Result{OK: true}
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(request); err != nil {
		return failure(ctx, timeout, err)
	}
	var answer []byte
	buf := make([]byte, 4096)
	parser := newAnswerParser()
	for {
		n, err := conn.Read(buf)
		answer = append(answer, buf[:n]...)
		ended := err != nil || len(answer) >= maxAnswer
		if res, done := parser.parse(answer, ended); done {
			return res
		}
		if err != nil {
			return failure(ctx, timeout, err)
		}
	}
}
