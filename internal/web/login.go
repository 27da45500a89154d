package web

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/auth"
)

// loginHTML is the login page, a template only for its messages and title:
// it holds no script, and html/template escapes what it fills in.
//
//go:embed login.html
var loginHTML string

// maxLoginBody bounds a login form: a username and a password.
const maxLoginBody = 8 << 10

// loginPage is what the login page shows.
type loginPage struct {
	Title    string
	Message  string
	Error    bool // the message reports a failure
	CanLogIn bool // a username and password are configured
}

// parseLoginTemplate parses the embedded login page; a failure is a
// programming error caught by every test that builds a handler.
func parseLoginTemplate() *template.Template {
	return template.Must(template.New("login").Parse(loginHTML))
}

// writeLoginPage renders the login page with status.
func (h *handler) writeLoginPage(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Title = h.title
	p.CanLogIn = h.auth.HasPassword()
	if !p.CanLogIn && p.Message == "" {
		p.Message = "Logging in with a password is not configured here (web_ui.auth has tokens only); " +
			"use the API with Authorization: Bearer <token>."
	}
	var buf bytes.Buffer
	if err := h.login.Execute(&buf, p); err != nil {
		h.writeError(w, r, fmt.Errorf("render the login page: %w", err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// loginPageGet serves GET /login, with a message chosen by the query
// (failed, expired, loggedout) of the redirect that led here.
func (h *handler) loginPageGet(w http.ResponseWriter, r *http.Request) {
	if h.auth == nil {
		redirect(w, "./") // nothing to log in to
		return
	}
	q := r.URL.Query()
	if infoOf(r).session != "" {
		redirect(w, safeNext(q.Get("next"))) // logged in already
		return
	}
	var p loginPage
	switch {
	case q.Has("failed"):
		p.Message, p.Error = "Invalid username or password.", true
	case q.Has("expired"):
		p.Message, p.Error = "Your session has expired or ended. Please log in again.", true
	case q.Has("loggedout"):
		p.Message = "You have logged out."
	}
	h.writeLoginPage(w, r, http.StatusOK, p)
}

// login serves POST /login: a form with username and password. Success sets
// the session cookie and sends the browser on to ?next= (303); a failure sends
// it back to the login page (303), and an address with too many failures gets
// 429 with Retry-After and the login page saying how long to wait.
func (h *handler) loginPost(w http.ResponseWriter, r *http.Request) {
	if h.auth == nil {
		h.writeError(w, r, &requestError{http.StatusNotFound, "authentication is off: there is nothing to log in to"})
		return
	}
	info := infoOf(r)
	info.event = "login failed"
	info.refused = true
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		h.writeError(w, r, badRequest("read the login form: "+err.Error()))
		return
	}
	next := r.URL.Query().Get("next")
	s, err := h.auth.Login(r.Context(), clientAddr(r), r.PostForm.Get("username"), r.PostForm.Get("password"))
	var limited *auth.RateLimitedError
	switch {
	case errors.As(err, &limited):
		info.event = "login refused: too many failures"
		secs := int(math.Ceil(limited.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.writeLoginPage(w, r, http.StatusTooManyRequests, loginPage{Error: true, Message: fmt.Sprintf(
			"Too many failed logins from your address. Try again in %d seconds.", secs)})
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		redirect(w, "login?failed=1&next="+url.QueryEscape(next))
		return
	case err != nil:
		h.writeError(w, r, err)
		return
	}
	info.event, info.refused = "login", false
	info.user, info.session = s.User, s.ID
	http.SetCookie(w, newAuthCookie(r, &s, int(h.auth.SessionLifetime().Seconds())))
	redirect(w, safeNext(next))
}

// logoutPost serves POST /logout: it ends the session of the cookie, deletes
// the cookie and sends the browser to the login page.
func (h *handler) logoutPost(w http.ResponseWriter, r *http.Request) {
	if h.auth == nil {
		redirect(w, "./")
		return
	}
	info := infoOf(r)
	info.event = "logout"
	if info.session != "" {
		h.auth.Logout(info.session)
	}
	http.SetCookie(w, newAuthCookie(r, nil, 0))
	redirect(w, "login?loggedout=1")
}

// redirect answers 303 See Other to the relative URL target.
func redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}
