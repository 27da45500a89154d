package web

import (
	_ "embed"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/auth"
)

// loginHTML is the login page. It holds no script; renderLogin fills in the
// title and the message, escaped, and leaves out the fields between
// <!--fields--> and <!--/fields--> when there is no password to log in with.
// (Not html/template: its use of reflection keeps every exported method of
// every type in the binary, which made pyvisor 3 MB larger.)
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

// renderLogin returns the login page showing p. Every value is escaped as
// HTML text; the title and the message go into element content only.
func renderLogin(p loginPage) []byte {
	page := loginHTML
	if !p.CanLogIn {
		before, rest, _ := strings.Cut(page, "<!--fields-->")
		_, after, _ := strings.Cut(rest, "<!--/fields-->")
		page = before + after
	}
	msg := ""
	if p.Message != "" {
		class, role := "login-msg", "status"
		if p.Error {
			class, role = "login-msg error", "alert"
		}
		msg = `<p class="` + class + `" data-field="login-message" role="` + role + `">` + html.EscapeString(p.Message) + `</p>`
	}
	// One pass: what is filled in is not searched for placeholders again.
	return []byte(strings.NewReplacer("{{title}}", html.EscapeString(p.Title), "{{message}}", msg).Replace(page))
}

// writeLoginPage renders the login page with status.
func (h *handler) writeLoginPage(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Title = h.title
	p.CanLogIn = h.auth.HasPassword()
	if !p.CanLogIn && p.Message == "" {
		p.Message = "Logging in with a password is not configured here (web_ui.auth has tokens only); " +
			"use the API with Authorization: Bearer <token>."
	}
	page := renderLogin(p)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(page)
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
// it back to the login page (303). A login refused by a limit gets 429 (or
// 503 when no password check could start in time) with Retry-After and the
// login page saying how long to wait.
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
		// The deadline stays: net/http reads what is left of the body before
		// it answers.
		h.writeError(w, r, badRequest("read the login form: "+err.Error()))
		return
	}
	// Read: lift serve's deadline, as discardBody does, so that a password
	// check waiting for its turn is not cut off.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	next := r.URL.Query().Get("next")
	s, err := h.auth.Login(r.Context(), clientAddr(r), r.PostForm.Get("username"), r.PostForm.Get("password"))
	var limited *auth.RateLimitedError
	switch {
	case errors.As(err, &limited):
		secs := int(math.Ceil(limited.RetryAfter.Seconds()))
		status, event, msg := refusal(limited.Limit)
		info.event = "login refused: " + event
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.writeLoginPage(w, r, status, loginPage{Error: true, Message: fmt.Sprintf(
			"%s. Try again in %d seconds.", msg, secs)})
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
	http.SetCookie(w, newAuthCookie(r, h.cookies, &s, int(h.auth.SessionLifetime().Seconds())))
	redirect(w, safeNext(next))
}

// refusal is the status, the audit event and the words of a login refused by
// limit: 429 for too many failures, 503 when the server is too busy to check
// the password.
func refusal(limit auth.Limit) (status int, event, msg string) {
	switch limit {
	case auth.LimitNetwork:
		return http.StatusTooManyRequests, "too many failures from the network", "Too many failed logins from your network"
	case auth.LimitServer:
		return http.StatusTooManyRequests, "too many failures on the server", "Too many failed logins on this server, from all addresses"
	case auth.LimitBusy:
		return http.StatusServiceUnavailable, "too many password checks at once", "Too many logins are being checked at once"
	}
	return http.StatusTooManyRequests, "too many failures", "Too many failed logins from your address"
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
	http.SetCookie(w, newAuthCookie(r, h.cookies, nil, 0))
	redirect(w, "login?loggedout=1")
}

// redirect answers 303 See Other to the relative URL target.
func redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}
