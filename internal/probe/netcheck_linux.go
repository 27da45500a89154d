//go:build linux && !386 && !s390x

package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// startNet runs a TCP check (request nil) or a plain HTTP one (request is what to send) of address
// (host:port) on the engine, and sends the result to done. A host name is looked up when the check is due,
// on a goroutine of its own: a lookup may wait on the network, and the engine waits on nothing but its
// sockets.
func (p *Prober) startNet(ctx context.Context, check Check, address string, request []byte, done chan<- Result) {
	host, portName, err := net.SplitHostPort(address)
	if err != nil {
		done <- Result{Detail: err.Error(), Due: check.At}
		return
	}
	ip, ipErr := netip.ParseAddr(host)
	port, portErr := strconv.ParseUint(portName, 10, 16)
	if ipErr == nil && portErr == nil {
		c := &netCheck{ctx: ctx, timeout: check.Timeout, request: request, done: done, again: check.Again, fd: -1}
		c.addrs = []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}
		engine.submit(c, check.At)
		return
	}
	later(ctx, check, done, func() Result {
		lookupCtx, cancel := context.WithTimeout(ctx, check.Timeout)
		defer cancel()
		addrs, err := lookup(lookupCtx, host, portName)
		if err != nil {
			return failure(lookupCtx, check.Timeout, err)
		}
		result := make(chan Result, 1)
		engine.submit(&netCheck{ctx: ctx, timeout: check.Timeout, addrs: addrs, request: request, done: result, fd: -1}, time.Time{})
		return <-result
	})
}

// lookup returns the addresses of host and the number of the port portName.
func lookup(ctx context.Context, host, portName string) ([]netip.AddrPort, error) {
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", portName)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	addrs := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		addrs[i] = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	}
	return addrs, nil
}

// netCheck is a TCP or plain HTTP check on the engine. Only the engine's goroutine touches it once
// submitted. It goes through its phases as its socket becomes ready: connecting (to each of addrs in
// turn until one accepts), sending the request, reading the answer. A check with again set may then run
// again: the engine rearms it and submits it anew.
type netCheck struct {
	ctx      context.Context
	at       time.Time // when the check is due to begin (see checkEngine.submit)
	deadline time.Time // when it ends, once begun: its timeout after it began
	timeout  time.Duration
	addrs    []netip.AddrPort // the addresses to try
	request  []byte           // nil for a TCP check
	done     chan<- Result
	again    func(due, ended time.Time) time.Time // see Check.Again

	fd        int    // the socket; -1 when none
	tried     int    // the addresses that failed: addrs[tried] is the one being connected to
	sent      int    // what has been sent of the request
	sending   bool   // connected, part of the request still to send
	receiving bool   // the request is sent, the answer is being read
	answer    []byte // read so far
	firstErr  error  // the first address's failure, reported if none accepts
	ended     bool   // the result is sent, or the check is to run again
	rerun     bool   // ended with a pass, to run again at at
	stopWake  func() bool
}

// begin starts the check: its first connection, and (once for all its runs) a wake-up of the engine when
// ctx ends.
func (c *netCheck) begin(now time.Time) {
	c.deadline = now.Add(c.timeout)
	if c.stopWake == nil {
		c.stopWake = context.AfterFunc(c.ctx, engine.wake)
	}
	c.connect()
}

// rearm makes a check that ended with rerun set ready to begin again.
func (c *netCheck) rearm() {
	c.tried, c.sent, c.sending, c.receiving = 0, 0, false, false
	c.answer, c.firstErr, c.ended, c.rerun = c.answer[:0], nil, false, false
}

// events returns what the engine waits for on the socket.
func (c *netCheck) events() int16 {
	if c.receiving {
		return unix.POLLIN | unix.POLLRDHUP
	}
	return unix.POLLOUT
}

// connect opens a connection to the next address: at once (as on loopback), later (the engine waits for
// the socket to be writable), or not (the next address is tried).
func (c *netCheck) connect() {
	for c.tried < len(c.addrs) {
		ap := c.addrs[c.tried]
		sa, err := sockaddr(ap)
		if err == nil {
			c.fd, err = rawSocket(sa.family)
			if err != nil {
				c.fd = -1
				c.finish(Result{Detail: os.NewSyscallError("socket", err).Error()})
				return
			}
			err = rawConnect(c.fd, &sa)
			if errors.Is(err, unix.EINPROGRESS) {
				if !rawConnected(c.fd) {
					return // still connecting: wait until the socket is writable
				}
				err = nil
			}
		}
		if err == nil {
			c.connected()
			return
		}
		c.failedConnect(err)
	}
}

// failedConnect drops the address being connected to, which failed with err.
func (c *netCheck) failedConnect(err error) {
	if c.firstErr == nil {
		c.firstErr = fmt.Errorf("connect to %s: %w", c.addrs[c.tried], err)
	}
	c.closeSocket()
	c.tried++
	if c.tried == len(c.addrs) {
		c.finish(Result{Detail: c.firstErr.Error()})
	}
}

// connected goes on from an open connection: a TCP check has passed, an HTTP check sends its request.
func (c *netCheck) connected() {
	if c.request == nil {
		c.finish(Result{OK: true})
		return
	}
	c.sending = true
	c.send()
}

// send writes what is left of the request.
func (c *netCheck) send() {
	for c.sent < len(c.request) {
		n, err := rawWrite(c.fd, c.request[c.sent:])
		switch {
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			c.finish(Result{Detail: os.NewSyscallError("write", err).Error()})
			return
		}
		c.sent += n
	}
	c.sending, c.receiving = false, true
}

// ready goes on from a socket that poll found ready; buf and parser are the engine's, for answers.
func (c *netCheck) ready(buf []byte, parser *answerParser) {
	switch {
	case c.receiving:
		c.receive(buf, parser)
	case c.sending:
		c.send()
	default: // connecting
		n, err := rawSocketError(c.fd)
		switch {
		case err != nil:
			c.failedConnect(os.NewSyscallError("getsockopt", err))
			c.connect()
		case n != 0:
			c.failedConnect(n)
			c.connect()
		default:
			c.connected()
		}
	}
}

// receive reads what has come of the answer into buf, and decides once enough has. An answer that comes
// in one read, as on loopback, is decided in buf; one that comes in parts is gathered in c.answer.
func (c *netCheck) receive(buf []byte, parser *answerParser) {
	for {
		n, err := rawRead(c.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// An error after the status line does not change the verdict; before it, it is the cause.
			if bytes.IndexByte(c.answer, '\n') < 0 {
				c.finish(Result{Detail: os.NewSyscallError("read", err).Error()})
				return
			}
			n = 0
		}
		answer := buf[:n]
		if len(c.answer) > 0 {
			c.answer = append(c.answer, answer...)
			answer = c.answer
		}
		if res, done := parser.parse(answer, n == 0 || len(answer) >= maxAnswer); done {
			c.finish(res)
			return
		}
		if len(c.answer) == 0 {
			c.answer = append(c.answer, answer...)
		}
	}
}

// expire ends the check if its context or its time has ended.
func (c *netCheck) expire(now time.Time) {
	switch {
	case c.ctx.Err() != nil:
		c.finish(failure(c.ctx, c.timeout, c.ctx.Err()))
	case !now.Before(c.deadline):
		c.finish(timedOut(c.timeout))
	}
}

// finish closes the socket and sends the result, or has a check that passed run again (see Check.Again).
func (c *netCheck) finish(res Result) {
	c.closeSocket()
	c.ended = true
	if res.OK && c.again != nil && c.ctx.Err() == nil {
		c.at, c.rerun = c.again(c.at, time.Now()), true
		return
	}
	if c.stopWake != nil {
		c.stopWake()
	}
	res.Due = c.at
	c.done <- res
}

func (c *netCheck) closeSocket() {
	if c.fd >= 0 {
		rawClose(c.fd)
		c.fd = -1
	}
}
