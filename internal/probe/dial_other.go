//go:build !linux

package probe

import "context"

// dial opens a TCP connection to address (host:port) within ctx.
func (p *Prober) dial(ctx context.Context, address string) (*checkConn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	return bind(ctx, c), nil
}
