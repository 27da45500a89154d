package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pyvisor/pyvisor/internal/api"
)

// ProgramList is the answer of GET /api/programs, with the body as it came.
type ProgramList struct {
	api.ProgramList
	// Raw is the answer as the manager sent it (without the final newline), for
	// callers that pass it on unchanged.
	Raw []byte
}

// Names returns the programs' names in the manager's (config) order.
func (l *ProgramList) Names() []string {
	names := make([]string, len(l.Programs))
	for i := range l.Programs {
		names[i] = l.Programs[i].Name
	}
	return names
}

// Programs returns every program, in config order.
func (c *Client) Programs(ctx context.Context) (*ProgramList, error) {
	var l ProgramList
	raw, err := c.decode(ctx, http.MethodGet, "/api/programs", &l.ProgramList)
	if err != nil {
		return nil, err
	}
	l.Raw = raw
	return &l, nil
}

// Start starts the named program and returns it once it runs (a no-op on a
// running program). A start that fails is an *APIError with status 409
// carrying the reason.
func (c *Client) Start(ctx context.Context, name string) (*api.Program, error) {
	return c.act(ctx, name, "start")
}

// Stop stops the named program and returns it once its whole process group
// is gone (a no-op on a stopped program).
func (c *Client) Stop(ctx context.Context, name string) (*api.Program, error) {
	return c.act(ctx, name, "stop")
}

// Restart restarts the named program (clearing broken) and returns it once it runs again.
func (c *Client) Restart(ctx context.Context, name string) (*api.Program, error) {
	return c.act(ctx, name, "restart")
}

func (c *Client) act(ctx context.Context, name, action string) (*api.Program, error) {
	var p api.Program
	if _, err := c.decode(ctx, http.MethodPost, programPath(name)+"/"+action, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ErrReloadUnsupported is returned by Reload when the manager has no reload
// route (it answers 404 or 405): it is older than the client.
var ErrReloadUnsupported = errors.New("this manager does not support reload")

// Reload asks the manager to read its configuration file again. A rejected
// configuration is an *APIError with status 422 whose Message is the
// manager's report of every problem.
func (c *Client) Reload(ctx context.Context) (*api.ReloadResult, error) {
	var r api.ReloadResult
	_, err := c.decode(ctx, http.MethodPost, "/api/reload", &r)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed) {
		return nil, fmt.Errorf("%w (%s %s answered %d: %s)", ErrReloadUnsupported, ae.Method, ae.Path, ae.Status, ae.Message)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}
