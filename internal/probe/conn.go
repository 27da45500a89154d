package probe

import (
	"context"
	"io"
	"time"
)

// conn is what a check needs of a connection: *os.File on Linux (see dial_linux.go), net.Conn elsewhere.
type conn interface {
	io.ReadWriteCloser
	SetDeadline(t time.Time) error
}

// checkConn is the connection of one HTTP or TCP check, bound to the check's context: its deadline is the
// context's, and the end of the context ends whatever waits on it.
type checkConn struct {
	conn
	stop func() bool // unbinds the context
}

// bind gives c ctx's deadline and ends c's waits when ctx ends.
func bind(ctx context.Context, c conn) *checkConn {
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return &checkConn{conn: c, stop: stop}
}

// Close unbinds the context and closes the connection.
func (c *checkConn) Close() error {
	c.stop()
	return c.conn.Close()
}
