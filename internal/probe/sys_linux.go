//go:build linux && !386 && !s390x

package probe

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The engine's system calls on its sockets are raw (unix.RawSyscall): none of them can block, as the
// sockets are nonblocking and none lingers on close. A call made the usual way tells the runtime that it
// may block, and in a process that was idle that wakes the runtime's sysmon thread, which then wakes
// every 20 µs for as long as the process is busy: for a manager checking a hundred programs at once, as
// much CPU as a good part of the checks. The one call that waits, the engine's ppoll, is made the usual
// way. (On 386 and s390x socket calls go through socketcall(2); there checks run as on other systems.)

// socketAddress is an address to connect to, in the kernel's form.
type socketAddress struct {
	family int
	raw    unix.RawSockaddrAny
	len    uintptr
}

// sockaddr returns ap in the kernel's form.
func sockaddr(ap netip.AddrPort) (socketAddress, error) {
	var sa socketAddress
	ip := ap.Addr()
	if ip.Is4() {
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		in.Family, in.Addr = unix.AF_INET, ip.As4()
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&in.Port))[:], ap.Port())
		sa.family, sa.len = unix.AF_INET, unix.SizeofSockaddrInet4
		return sa, nil
	}
	in := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa.raw))
	in.Family, in.Addr = unix.AF_INET6, ip.As16()
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&in.Port))[:], ap.Port())
	if zone := ip.Zone(); zone != "" {
		if n, err := strconv.Atoi(zone); err == nil {
			in.Scope_id = uint32(n)
		} else if ifi, err := net.InterfaceByName(zone); err == nil {
			in.Scope_id = uint32(ifi.Index)
		} else {
			return sa, fmt.Errorf("address %s: %w", ap, err)
		}
	}
	sa.family, sa.len = unix.AF_INET6, unix.SizeofSockaddrInet6
	return sa, nil
}

// errnoErr returns nil for 0, else e.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// rawSocket returns a new nonblocking TCP socket of family.
func rawSocket(family int) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	return int(fd), errnoErr(e)
}

// rawConnect begins connecting fd to sa: unix.EINPROGRESS unless it is done at once.
func rawConnect(fd int, sa *socketAddress) error {
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa.raw)), sa.len)
	return errnoErr(e)
}

// rawConnected reports whether fd is connected: getpeername(2) succeeds.
func rawConnected(fd int) bool {
	var peer unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&peer)), uintptr(unsafe.Pointer(&n)))
	return e == 0
}

// rawSocketError returns fd's pending error (SO_ERROR): 0 once a connection opened.
func rawSocketError(fd int) (unix.Errno, error) {
	var v int32
	n := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&n)), 0)
	return unix.Errno(v), errnoErr(e)
}

// rawWrite writes b to fd.
func rawWrite(fd int, b []byte) (int, error) { return rawTransfer(unix.SYS_WRITE, fd, b) }

// rawRead reads into b from fd.
func rawRead(fd int, b []byte) (int, error) { return rawTransfer(unix.SYS_READ, fd, b) }

// rawTransfer makes the read or write system call trap on fd and b.
func rawTransfer(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawClose closes fd.
func rawClose(fd int) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}
