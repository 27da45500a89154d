package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/auth"
)

// Access control: with authentication on, every request needs a valid
// session cookie or API token, except the few public routes below. The check
// is made in ServeHTTP for whatever route a request reaches, so a route added
// later is guarded without anyone remembering to.

// sessionCookie names the cookie that carries a browser's session ID; a
// Secure one is named with the __Host- prefix (see sessionCookieName).
const sessionCookie = "pyvisor_session"

// CookieSecurity says when the session cookie is marked Secure, so that
// browsers send it over HTTPS only.
type CookieSecurity int

const (
	// CookiesSecureOverTLS marks it Secure on requests that came over TLS:
	// right when pyvisor serves HTTPS itself.
	CookiesSecureOverTLS CookieSecurity = iota
	// CookiesAlwaysSecure marks it Secure always: for a reverse proxy that
	// serves HTTPS to browsers and plain HTTP to pyvisor.
	CookiesAlwaysSecure
	// CookiesNeverSecure never marks it Secure.
	CookiesNeverSecure
)

// cookieSecure reports whether the session cookie is Secure under policy c
// for a request that came over TLS or not. It is pure.
func cookieSecure(c CookieSecurity, overTLS bool) bool {
	switch c {
	case CookiesAlwaysSecure:
		return true
	case CookiesNeverSecure:
		return false
	}
	return overTLS
}

// sessionCookieName names the session cookie. A Secure one carries the
// __Host- prefix: browsers then accept it only when it is Secure, set over
// HTTPS, for the path / and without a Domain, so that neither another host of
// the domain nor a plain-HTTP page can plant a session of its choosing. It is
// pure.
func sessionCookieName(secure bool) string {
	if secure {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// isPublic reports whether the route pattern is served without credentials:
// what a browser needs to log in or out, and the health check.
func isPublic(pattern string) bool {
	switch pattern {
	case "GET /healthz", "GET /login", "POST /login", "POST /logout", "GET /app.css":
		return true
	}
	return false
}

// requestInfo is what the handling of one request learns about it, for the
// handlers (who is asking) and the audit log (what came of it).
type requestInfo struct {
	// user is the username of a session, "token:NAME" for an API token, or "-".
	user string
	// session is the ID of the session used, or "".
	session string
	// expires is when that session ends; zero without one.
	expires time.Time
	// pattern is the route the request reached; "" for none.
	pattern string
	// program is the program the request is about, when the route has one.
	program string
	// event names what happened when the status alone does not say it
	// ("login", "login failed", "logout").
	event string
	// refused marks a request turned away for its credentials (or a login that
	// failed), whatever its status.
	refused bool
}

type infoKey struct{}

// withInfo returns r with a new requestInfo in its context.
func withInfo(r *http.Request) (*http.Request, *requestInfo) {
	info := &requestInfo{user: "-"}
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, info)), info
}

// infoOf returns the requestInfo of r (a fresh one if ServeHTTP did not set it,
// as in handler tests).
func infoOf(r *http.Request) *requestInfo {
	if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{user: "-"}
}

// credentialProblem says why a request's credentials were not accepted.
type credentialProblem int

const (
	noCredentials credentialProblem = iota
	badToken
	deadSession // a session cookie naming no live session: expired, logged out, or from before a restart
)

// identify fills info with who r comes from. An Authorization header must
// hold a valid bearer token (a wrong one is not excused by a good cookie);
// without one, the session cookie counts.
func (h *handler) identify(r *http.Request, info *requestInfo) (ok bool, problem credentialProblem) {
	if hdr := r.Header.Get("Authorization"); hdr != "" {
		scheme, token, _ := strings.Cut(hdr, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return false, badToken
		}
		name, ok := h.auth.Token(strings.TrimSpace(token))
		if !ok {
			return false, badToken
		}
		info.user = "token:" + name
		return true, 0
	}
	c, err := r.Cookie(sessionCookieName(cookieSecure(h.cookies, r.TLS != nil)))
	if err != nil {
		return false, noCredentials
	}
	s, ok := h.auth.Session(c.Value)
	if !ok {
		return false, deadSession
	}
	info.user, info.session, info.expires = s.User, s.ID, s.Expires
	return true, 0
}

// authorize lets r through when authentication is off, r carries valid
// credentials, or its route is public. Otherwise it answers (401, or a
// redirect to the login page for a page a browser opened) and returns false.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, info *requestInfo) bool {
	if h.auth == nil {
		return true
	}
	// Identified even on public routes, so the login page and logout know the session.
	ok, problem := h.identify(r, info)
	if ok || isPublic(info.pattern) {
		return true
	}
	info.refused = true
	if isPage(r, info.pattern) {
		target := "login?next=" + url.QueryEscape(r.URL.RequestURI())
		if problem == deadSession {
			target += "&expired=1"
		}
		// Relative, like every URL of the dashboard, so that it works behind a
		// proxy that serves pyvisor under a path prefix.
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusSeeOther)
		return false
	}
	msg := "authentication required: log in at /login, or send the header Authorization: Bearer <token>"
	challenge := `Bearer realm="pyvisor"`
	switch problem {
	case badToken:
		msg = "invalid or revoked API token (send Authorization: Bearer <token>)"
		challenge += `, error="invalid_token"`
	case deadSession:
		msg = "your session has expired or ended; log in again at /login"
	}
	w.Header().Set("WWW-Authenticate", challenge)
	h.writeError(w, r, &requestError{http.StatusUnauthorized, msg})
	return false
}

// isPage reports whether r is a browser opening a page of the dashboard,
// which is better answered by the login page than by a 401.
func isPage(r *http.Request, pattern string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return pattern == "GET /{$}" || pattern == "GET /{file}" && strings.HasSuffix(r.URL.Path, ".html")
}

// safeNext returns where to send a browser after it logged in: the local path
// next, relative to the login page ("./" and the path without its slash), or
// "./" (the dashboard) for anything that is not a plain local path, so that a
// crafted link cannot make the login page send the browser to another site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	switch {
	case err != nil, u.Scheme != "", u.Host != "", u.User != nil, u.Opaque != "",
		!strings.HasPrefix(next, "/"), strings.HasPrefix(next, "//"), strings.ContainsAny(next, "\\\x00\r\n\t"):
		return "./"
	}
	return "." + next
}

// clientAddr is the address of the client r comes from: the peer of the
// connection. X-Forwarded-For is not trusted, since any client can send it.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (h *handler) session(w http.ResponseWriter, r *http.Request) {
	out := api.Session{Auth: h.auth != nil}
	if info := infoOf(r); out.Auth && info.user != "-" {
		via := "token"
		if info.session != "" {
			via = "session"
		}
		out.User, out.Via = &info.user, &via
	}
	writeJSON(w, http.StatusOK, out)
}

// newAuthCookie is the session cookie for s, or with s nil the cookie that
// deletes it, Secure as policy says for r.
func newAuthCookie(r *http.Request, policy CookieSecurity, s *auth.Session, maxAge int) *http.Cookie {
	secure := cookieSecure(policy, r.TLS != nil)
	c := &http.Cookie{
		Name:     sessionCookieName(secure),
		Path:     "/", // and no Domain, as the __Host- prefix requires
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   secure,
		MaxAge:   -1,
	}
	if s != nil {
		c.Value, c.MaxAge = s.ID, maxAge
	}
	return c
}
