// Package web owns pyvisor's HTTP surface: the JSON API that scripts and the
// dashboard use, the Server-Sent Event streams of program states and log lines,
// and the dashboard itself (static files embedded in the binary). It guards that
// surface against DNS rebinding (Host check), cross-site requests (Origin
// check) and, when authentication is on, anyone without a session or an API
// token, because anyone who reaches it can start programs; it records every
// request that may change something in the audit log. Every route is in
// routes.go; the state it shows belongs to the supervisor and is only read here.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/auth"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// Options configure the handler returned by NewHandler.
type Options struct {
	// Supervisor runs the programs the API shows and controls; it must not be nil.
	Supervisor *supervisor.Supervisor
	// Title is shown in the dashboard's header and returned by GET /api/programs.
	Title string
	// AllowedHosts are Host names accepted besides loopback names, IP literals and
	// the machine's hostname (web_ui.allowed_hosts). An entry with a port matches
	// only that port; "*.example.com" matches every subdomain of example.com.
	AllowedHosts []string
	// Logger receives request errors worth an operator's attention; nil means slog.Default().
	Logger *slog.Logger
	// Uploads configure the programs uploaded as ZIP files (POST and PUT /api/programs).
	Uploads UploadOptions
	// Reload re-reads the configuration file and applies it (POST /api/reload);
	// nil means reloading is not available: the route answers 501 and the
	// dashboard shows no reload button. An error that wraps ErrInvalidConfig
	// answers 422 with the error's message, which should be the loader's whole
	// report.
	Reload func(ctx context.Context) (supervisor.ReloadResult, error)
	// TestNotify sends a test notification through every target of the
	// notify list and says how each went (POST /api/notify/test); nil means
	// notifications are not available: the route answers 501.
	TestNotify func(ctx context.Context) []api.NotifyResult
	// Auth checks the credentials every request but a few public ones (the
	// login page, /healthz) must carry; nil means none are needed (a server
	// on a loopback address, or "web_ui.auth: false").
	Auth *auth.Authenticator
	// SecureCookies says when the session cookie is Secure (web_ui.secure_cookies);
	// the zero value marks it so on requests that came over TLS.
	SecureCookies CookieSecurity
	// MaxLogStreams is the most live log streams served at once; 0 means
	// DefaultMaxLogStreams.
	MaxLogStreams int
}

// DefaultMaxLogStreams is how many live log streams are served at once when
// Options.MaxLogStreams is 0: plenty for the dashboards and `pyvisor logs -f`
// of a team, while a client that opens streams in a loop cannot take the
// manager's memory or descriptors.
const DefaultMaxLogStreams = 64

// DefaultMaxZipBytes is the largest ZIP accepted when UploadOptions.MaxZipBytes is 0.
const DefaultMaxZipBytes = 50 << 20

// UploadOptions configure the uploads of programs. The zero value accepts ZIPs
// up to 50 MiB with install's default limits and installs with python3 from PATH.
type UploadOptions struct {
	// MaxZipBytes is the largest ZIP accepted, in bytes; 0 means DefaultMaxZipBytes.
	MaxZipBytes int64
	// Limits bound what a ZIP may hold and unpack to; zero fields mean install's defaults.
	Limits install.Limits
	// Installer makes each upload's venv and installs its requirements.
	Installer install.Installer
}

// handler serves every route. It holds no mutable state of its own but the
// encoded "programs" event all streams share: program state is read from the
// supervisor, assets are built once in NewHandler.
type handler struct {
	sup     *supervisor.Supervisor
	logs    *logfile.Reader
	title   string
	hosts   hostPolicy
	log     *slog.Logger
	uploads UploadOptions
	reload  func(context.Context) (supervisor.ReloadResult, error)
	notify  func(context.Context) []api.NotifyResult
	auth    *auth.Authenticator
	cookies CookieSecurity
	assets  map[string]*asset
	mux     *http.ServeMux
	// follows shares one change notification among the live log streams.
	follows *logfile.Watcher
	// streams holds a token per live log stream, up to the limit.
	streams chan struct{}
	// programsEvent is the data of the latest "programs" event, for every stream.
	programsEvent *sharedPayload
}

// NewHandler returns the handler of the API, the event streams and the
// dashboard, wrapped in the Host, Origin and credential checks, the security
// headers and the audit log.
func NewHandler(opts Options) http.Handler {
	h := &handler{
		sup:     opts.Supervisor,
		logs:    logfile.NewReader(),
		title:   opts.Title,
		hosts:   newHostPolicy(opts.AllowedHosts),
		log:     opts.Logger,
		uploads: opts.Uploads,
		reload:  opts.Reload,
		notify:  opts.TestNotify,
		auth:    opts.Auth,
		cookies: opts.SecureCookies,
		assets:  loadAssets(),
		mux:     http.NewServeMux(),
	}
	h.follows = logfile.NewWatcher()
	maxStreams := opts.MaxLogStreams
	if maxStreams <= 0 {
		maxStreams = DefaultMaxLogStreams
	}
	h.streams = make(chan struct{}, maxStreams)
	if h.uploads.MaxZipBytes <= 0 {
		h.uploads.MaxZipBytes = DefaultMaxZipBytes
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.programsEvent = &sharedPayload{generation: h.sup.Generation, encode: h.encodePrograms, maxAge: payloadMaxAge}
	h.routes()
	return h
}

// Server limits. There is no WriteTimeout: it would cut the event streams,
// which set a deadline before each write instead (see sse.go).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// NewServer returns an http.Server for h on addr with header-read and idle
// timeouts and a header size limit. Shutdown also ends the event streams: it
// cancels the context of every request, which long-lived handlers wait on, so
// Shutdown does not wait for clients that never leave.
func NewServer(addr string, h http.Handler) *http.Server {
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	srv.RegisterOnShutdown(cancel)
	return srv
}
