package client

import (
	"context"
	"net/http"

	"github.com/pyvisor/pyvisor/internal/api"
)

// NotifyTest has the manager send a test notification through every target
// of its notify list, and returns how each went once all are done (a webhook
// or command gets up to 10 s).
func (c *Client) NotifyTest(ctx context.Context) (*api.NotifyTest, error) {
	var r api.NotifyTest
	if _, err := c.decode(ctx, http.MethodPost, "/api/notify/test", &r); err != nil {
		return nil, err
	}
	return &r, nil
}
