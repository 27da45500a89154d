package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
)

// server starts an HTTP server on a free loopback port serving h.
func server(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, Options{})
	if err != nil {
		t.Fatalf("New(%q): %v", srv.URL, err)
	}
	return c
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"no scheme", "127.0.0.1:10000", "manager URL"},
		{"scheme without slashes", "localhost:10000", "scheme"},
		{"ftp", "ftp://127.0.0.1/", "scheme"},
		{"no host", "http://", "no host"},
		{"query", "http://127.0.0.1:1/?a=b", "query"},
		{"user", "http://u:p@127.0.0.1:1/", "user"},
		{"unparsable", "http://[::1", "manager URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.url, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%q) = %v, want an error mentioning %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestBaseURLKeepsPrefix(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		fmt.Fprint(w, `{"name":"a b%","state":"running","pid":7}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/pyvisor/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(t.Context(), "a b%")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if want := "/pyvisor/api/programs/a%20b%25/start"; got != want {
		t.Errorf("Start(%q) requested %q, want %q", "a b%", got, want)
	}
	if p.Name != "a b%" || p.State != "running" || p.PID == nil || *p.PID != 7 {
		t.Errorf("Start decoded %+v, want a b%% running with pid 7", p)
	}
}

// TestToken checks the bearer token reaches a server that requires one, and
// what a refusal looks like with and without a token.
func TestToken(t *testing.T) {
	const token = "s3cret-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"a valid token is required"}`)
			return
		}
		fmt.Fprint(w, `{"title":"T","programs":[{"name":"a","state":"stopped","pid":null}]}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, token string
		wantErr     string // "" for success
	}{
		{"right token", token, ""},
		{"no token", "", "401 Unauthorized"},
		{"wrong token", "nope", "401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(srv.URL, Options{Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			l, err := c.Programs(t.Context())
			if tc.wantErr == "" {
				if err != nil || l.Title != "T" || len(l.Programs) != 1 {
					t.Errorf("Programs() with token %q = %+v, %v; want the list", tc.token, l, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), tc.wantErr) ||
				!strings.Contains(err.Error(), "a valid token is required") {
				t.Errorf("Programs() with token %q: error %v; want ErrUnauthorized with the server's message and %q", tc.token, err, tc.wantErr)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		sentinel error // nil: none of ours
		wantMsg  string
	}{
		{"not found", 404, `{"error":"no such program: \"x\""}`, ErrNotFound, `no such program: "x"`},
		{"conflict", 409, `{"error":"script /x.py: no such file"}`, nil, "script /x.py: no such file"},
		{"forbidden", 403, `{"error":"host \"evil\" is not allowed"}`, ErrUnauthorized, `host "evil" is not allowed`},
		{"proxy page", 502, "<html>Bad Gateway</html>", nil, "<html>Bad Gateway</html>"},
		{"empty", 500, "", nil, "(empty answer)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := server(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.Stop(t.Context(), "x")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Stop against a %d answer: %v, want an *APIError", tc.status, err)
			}
			if ae.Status != tc.status || ae.Message != tc.wantMsg || ae.Method != "POST" || ae.Path != "/api/programs/x/stop" ||
				strings.Contains(err.Error(), "PYVISOR_TOKEN") {
				t.Errorf("Stop against a %d answer: %+v (%v), want status %d, message %q, POST /api/programs/x/stop, no token advice", tc.status, ae, err, tc.status, tc.wantMsg)
			}
			for _, s := range []error{ErrNotFound, ErrUnauthorized, ErrUnreachable} {
				if errors.Is(err, s) != (s == tc.sentinel) {
					t.Errorf("Stop against a %d answer: errors.Is(%v, %v) = %t", tc.status, err, s, errors.Is(err, s))
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	c, err := New(url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Programs(t.Context())
	var ue *UnreachableError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &ue) || ue.URL != url || !strings.Contains(err.Error(), url) {
		t.Errorf("Programs() at %s with nothing listening: %v; want ErrUnreachable naming the URL", url, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Programs(ctx)
	if errors.Is(err, ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Programs() with a cancelled context: %v; want context.Canceled, not unreachable", err)
	}
}

func TestProgramsKeepsRawJSON(t *testing.T) {
	const body = `{"title":"T","programs":[{"name":"a","state":"running","pid":12,"cpu_percent":1.5,"memory_rss_bytes":2048,"future_field":true}]}`
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/programs" {
			http.Error(w, "wrong route "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		fmt.Fprintln(w, body)
	})
	l, err := c.Programs(t.Context())
	if err != nil {
		t.Fatalf("Programs(): %v", err)
	}
	if string(l.Raw) != body {
		t.Errorf("Programs().Raw = %s, want the body as sent (without its newline) %s", l.Raw, body)
	}
	if got := l.Names(); len(got) != 1 || got[0] != "a" || l.Programs[0].CPUPercent == nil || *l.Programs[0].CPUPercent != 1.5 || l.Programs[0].MemoryRSSBytes != 2048 {
		t.Errorf("Programs() decoded %+v, want program a with cpu 1.5 and 2048 bytes", l)
	}
}

func TestReload(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		check     func(*api.ReloadResult, error) bool
		wantWords string
	}{
		{"applied", 200, `{"added":["n"],"removed":[],"changed":["c"],"needs_restart":["c"]}`,
			func(r *api.ReloadResult, err error) bool {
				return err == nil && len(r.Added) == 1 && r.Added[0] == "n" && len(r.NeedsRestart) == 1
			}, "added n, needs restart c"},
		{"rejected", 422, `{"error":"process_manager.yaml:3: web_ui.port: 70000 is out of range"}`,
			func(r *api.ReloadResult, err error) bool {
				var ae *APIError
				return errors.As(err, &ae) && ae.Status == 422 && strings.Contains(ae.Message, "web_ui.port")
			}, "an *APIError 422 carrying the report"},
		{"old manager", 404, `{"error":"no such route"}`,
			func(r *api.ReloadResult, err error) bool { return errors.Is(err, ErrReloadUnsupported) }, "ErrReloadUnsupported"},
		{"method not allowed", 405, `{"error":"method not allowed"}`,
			func(r *api.ReloadResult, err error) bool { return errors.Is(err, ErrReloadUnsupported) }, "ErrReloadUnsupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/api/reload" {
					http.Error(w, "wrong route", http.StatusTeapot)
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			r, err := c.Reload(t.Context())
			if !tc.check(r, err) {
				t.Errorf("Reload() against %d %s = %+v, %v; want %s", tc.status, tc.body, r, err, tc.wantWords)
			}
		})
	}
}
