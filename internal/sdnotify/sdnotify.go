// Package sdnotify tells systemd how the service is doing, through the
// notification socket systemd names in NOTIFY_SOCKET for a unit of
// Type=notify (see sd_notify(3)). It owns nothing but the format of that
// exchange: one datagram of newline-separated VARIABLE=value lines per call.
package sdnotify

import (
	"fmt"
	"net"
	"strings"
)

// Messages of the protocol that pyvisor sends.
const (
	// Ready says start-up is finished: systemd then considers the unit started.
	Ready = "READY=1"
	// Stopping says the service is shutting down.
	Stopping = "STOPPING=1"
)

// Notifier sends notifications to one socket. The zero value sends nothing.
type Notifier struct {
	// Socket is the address of systemd's notification socket, as NOTIFY_SOCKET
	// gives it: an absolute path, or a name in the abstract namespace written
	// with a leading '@'. "" means the service was not started by systemd (or
	// not as Type=notify): Notify does nothing.
	Socket string
}

// Notify sends state, one or more VARIABLE=value lines such as "READY=1" or
// "STOPPING=1\nSTATUS=shutting down", as one datagram. Without a socket it
// does nothing and returns nil.
func (n Notifier) Notify(state string) error {
	if n.Socket == "" {
		return nil
	}
	if !strings.HasPrefix(n.Socket, "/") && !strings.HasPrefix(n.Socket, "@") {
		return fmt.Errorf("notify systemd at %q: want an absolute path or an abstract name starting with '@'", n.Socket)
	}
	// The net package maps a leading '@' to the abstract namespace (on Linux,
	// the only system with systemd), as sd_notify does.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.Socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", n.Socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd at %s: send %q: %w", n.Socket, state, err)
	}
	return nil
}
