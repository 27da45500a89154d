package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The audit log: every request that may change something (any method but
// GET, HEAD and OPTIONS) is logged once it has been answered, whether it was
// served, refused or failed: one slog record "audit" with the client, the
// user, the route, the program, the status and the outcome. Form values are
// never logged: a password typed into the username field must not end up in
// a log file.

// audited reports whether requests with method are audited.
func audited(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// outcome is "ok", "refused" (credentials, Host, Origin, rate limit, a failed
// login) or "failed" (anything else that did not succeed).
func outcome(status int, refused bool) string {
	switch {
	case refused, status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return "refused"
	case status >= 400:
		return "failed"
	}
	return "ok"
}

// audit logs the answered request r.
func (h *handler) audit(r *http.Request, status int, info *requestInfo) {
	client := r.RemoteAddr
	if host, _, err := net.SplitHostPort(client); err == nil {
		client = host
	}
	attrs := []any{"client", client, "user", info.user, "method", r.Method}
	if info.pattern != "" {
		attrs = append(attrs, "route", info.pattern)
	} else {
		attrs = append(attrs, "path", r.URL.Path)
	}
	if info.program == "" {
		info.program = pathName(info.pattern, r.URL.EscapedPath())
	}
	if info.program != "" {
		attrs = append(attrs, "program", info.program)
	}
	if info.event != "" {
		attrs = append(attrs, "event", info.event)
	}
	attrs = append(attrs, "status", status, "outcome", outcome(status, info.refused))
	h.log.Info("audit", attrs...)
}

// pathName returns the {name} segment of the escaped path of a request that
// matched the route pattern, unescaped; "" when the pattern has none. It is
// pure.
func pathName(pattern, escapedPath string) string {
	_, p, _ := strings.Cut(pattern, " ")
	pat := strings.Split(p, "/")
	segs := strings.Split(escapedPath, "/")
	for i, s := range pat {
		if s == "{name}" && i < len(segs) {
			name, err := url.PathUnescape(segs[i])
			if err != nil {
				return ""
			}
			return name
		}
	}
	return ""
}

// statusRecorder remembers the status of a response for the audit log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 && status >= 200 { // 1xx answers are not the final status
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines
// of uploads and actions).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
