// Package client is a typed client of pyvisor's JSON API, for the command-line
// commands that talk to a running manager. It owns nothing but the requests:
// what it sends and decodes are the wire types of package api, the only
// package of ours it imports.
//
// Errors tell apart what a caller acts on: a manager that cannot be reached
// (ErrUnreachable, an *UnreachableError naming the URL), a refused token
// (ErrUnauthorized), an unknown program (ErrNotFound), and other answers of
// the manager (an *APIError carrying its status and message).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
)

// Sentinels for errors.Is. The errors returned are *UnreachableError or
// *APIError, which match these.
var (
	// ErrUnreachable: no answer came from the manager (connection refused, no
	// route, DNS failure, a broken TLS handshake, a connection closed early).
	ErrUnreachable = errors.New("manager unreachable")
	// ErrUnauthorized: the manager refused the request with 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the manager answered 404 (no such program, or a route this
	// manager does not have).
	ErrNotFound = errors.New("not found")
)

// Limits on what is read from the manager.
const (
	// maxBody bounds a JSON answer; the list of 1000 programs is about 1 MB.
	maxBody = 64 << 20
	// dialTimeout bounds connecting, so an unreachable host fails in seconds.
	// Requests themselves have no deadline: a stop may legitimately last as
	// long as a program's stop_timeout_seconds.
	dialTimeout = 5 * time.Second
)

// Options configure a Client. The zero value sends no token and uses a client
// with a 5-second connect timeout and no overall request timeout.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>"; empty sends none.
	Token string
	// HTTPClient makes the requests; nil means the default described above.
	HTTPClient *http.Client
	// TLSConfig is used by the default client for https; nil means the
	// system's roots. It is ignored when HTTPClient is set.
	TLSConfig *tls.Config
}

// Client talks to one manager. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], without a trailing slash
	token string
	http  *http.Client
}

// New returns a client of the manager at baseURL: an http or https URL,
// optionally with a path prefix (a manager behind a reverse proxy).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("manager URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("manager URL %q: the scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("manager URL %q: no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("manager URL %q: must not carry a query, fragment or user", baseURL)
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), token: opts.Token, http: opts.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
			TLSHandshakeTimeout: dialTimeout,
			TLSClientConfig:     opts.TLSConfig,
			ForceAttemptHTTP2:   true,
		}}
	}
	return c, nil
}

// UnreachableError reports that no answer came from the manager at URL.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the manager at %s: %v", e.URL, e.Err)
}

// Unwrap returns the transport's error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// APIError is an answer of the manager other than success.
type APIError struct {
	Method string // of the request
	Path   string // of the request, below the base URL, e.g. "/api/programs/web/start"
	Status int    // HTTP status
	// Message is the manager's api.Error, or the start of a body that is
	// not that shape (a proxy's error page).
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes errors.Is match ErrUnauthorized for 401 and 403 and ErrNotFound for 404.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// send makes a request and returns the response of a successful (2xx) one,
// whose body the caller closes. Other answers become an *APIError, transport
// failures an *UnreachableError; the context's own end is returned as is.
func (c *Client) send(ctx context.Context, method, path string, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats method and URL, which ours names already
		}
		return nil, &UnreachableError{URL: c.base, Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, &APIError{Method: method, Path: path, Status: resp.StatusCode,
		Message: errorMessage(resp.Body)}
}

// errorMessage reads the manager's {"error": "..."} from an error answer, or
// the start of whatever else came (a proxy's page).
func errorMessage(body io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		return "(empty answer)"
	}
	return text
}

// getJSON makes a request expecting JSON and returns the raw body.
func (c *Client) getJSON(ctx context.Context, method, path string) ([]byte, error) {
	resp, err := c.send(ctx, method, path, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, maxBody)
	}
	return bytes.TrimRight(data, "\n"), nil
}

// decode makes a request and decodes its JSON answer into v, returning the raw body too.
func (c *Client) decode(ctx context.Context, method, path string, v any) ([]byte, error) {
	data, err := c.getJSON(ctx, method, path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return data, nil
}

// programPath is the path of the named program, escaped as one segment.
func programPath(name string) string { return "/api/programs/" + url.PathEscape(name) }
