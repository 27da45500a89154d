package testkit

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// Do sends a request with c and returns the response, failing t on any error.
// hdr are header name, value pairs. The caller closes the body; cancelling ctx
// ends a response that streams.
func Do(ctx context.Context, t testing.TB, c *http.Client, method, target string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp
}
