package main

import (
	"errors"
	"net/netip"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// checkFloor does what n HTTP (or, with tcp, TCP) checks of addr every interval take at the least, for
// window: on one thread, at each multiple of interval on the clock, it opens n nonblocking connections,
// waits on all of them with one poll, sends each the request a check sends, waits for the answers with
// polls, reads each once and closes it. It returns the CPU time of that thread (the sleeps between rounds
// included: any loop has to wake) and the checks done.
func checkFloor(addr string, tcp bool, n int, interval, window time.Duration) (time.Duration, int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, 0, err
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	request := []byte("GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: pyvisor-health-check\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	fds := make([]unix.PollFd, n)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, err := threadCPU()
	if err != nil {
		return 0, 0, err
	}
	checks := 0
	for end := time.Now().Add(window); ; {
		now := time.Now()
		next := now.Add(interval - time.Duration(now.UnixNano()%int64(interval)))
		if next.After(end) {
			break
		}
		time.Sleep(time.Until(next))
		for i := range fds {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return 0, checks, err
			}
			if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
				return 0, checks, err
			}
			fds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
		}
		if err := pollAll(fds); err != nil {
			return 0, checks, err
		}
		for i := range fds {
			if !tcp {
				if _, err := unix.Write(int(fds[i].Fd), request); err != nil {
					return 0, checks, err
				}
			}
			fds[i].Events = unix.POLLIN
		}
		if !tcp {
			if err := pollAll(fds); err != nil {
				return 0, checks, err
			}
			for i := range fds {
				_, _ = unix.Read(int(fds[i].Fd), buf)
			}
		}
		for i := range fds {
			unix.Close(int(fds[i].Fd))
		}
		checks += n
	}
	cpu1, err := threadCPU()
	return cpu1 - cpu0, checks, err
}

// pollAll waits until every descriptor of fds is ready for what it waits for.
func pollAll(fds []unix.PollFd) error {
	left := len(fds)
	for i := range fds {
		fds[i].Revents = 0
	}
	for left > 0 {
		ready, err := unix.Poll(fds, 5000)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if ready == 0 && err == nil {
			return errors.New("the server did not answer within 5 s")
		}
		for i := range fds {
			if fds[i].Revents != 0 && fds[i].Fd >= 0 {
				fds[i].Fd = ^fds[i].Fd // done: poll skips negative descriptors
				left--
			}
		}
	}
	for i := range fds {
		fds[i].Fd = ^fds[i].Fd
	}
	return nil
}
