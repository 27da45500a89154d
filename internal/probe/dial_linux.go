package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
)

// dial opens a TCP connection to address (host:port) within ctx, trying the host's addresses in turn.
//
// It makes the socket itself and hands it to the runtime's poller as an *os.File, where net.Dialer would
// spend half as many system calls again (the local and peer addresses, TCP_NODELAY) and a wait on the
// poller for a connection that, on loopback, is already open when connect returns: checks of many
// programs are a good part of an idle manager's work, and the connection is most of a check.
func (p *Prober) dial(ctx context.Context, address string) (*checkConn, error) {
	host, portName, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", portName)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var first error
	for _, ip := range ips {
		c, err := connect(ctx, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = fmt.Errorf("%s has no address", host)
	}
	return nil, first
}

// connect opens a TCP connection to ap within ctx.
func connect(ctx context.Context, ap netip.AddrPort) (*checkConn, error) {
	family, sa, err := sockaddr(ap)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Connect(fd, sa); err != nil && err != syscall.EINPROGRESS && err != syscall.EINTR {
		syscall.Close(fd)
		return nil, fmt.Errorf("connect to %s: %w", ap, err)
	}
	f := os.NewFile(uintptr(fd), ap.String()) // nonblocking: the poller takes it
	c := bind(ctx, f)
	rc, err := f.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	// Wait until the socket is writable, which it is once connected or refused.
	var connErr error
	err = rc.Write(func(fd uintptr) bool {
		if _, err := syscall.Getpeername(int(fd)); err == nil {
			return true
		}
		n, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		switch {
		case err != nil:
			connErr = os.NewSyscallError("getsockopt", err)
		case n != 0:
			connErr = syscall.Errno(n)
		default:
			return false // still connecting
		}
		return true
	})
	if err == nil {
		err = connErr
	}
	if err != nil {
		c.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("connect to %s: %w", ap, err)
	}
	return c, nil
}

// sockaddr returns the address family and socket address of ap.
func sockaddr(ap netip.AddrPort) (int, syscall.Sockaddr, error) {
	ip := ap.Addr()
	if ip.Is4() {
		return syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	}
	sa := &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		if n, err := strconv.Atoi(zone); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(zone); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		} else {
			return 0, nil, fmt.Errorf("address %s: %w", ap, err)
		}
	}
	return syscall.AF_INET6, sa, nil
}
