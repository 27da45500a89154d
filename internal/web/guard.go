package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
)

// contentSecurityPolicy allows the dashboard only its own files: no inline
// script or style, no framing, no foreign connections.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// setSecurityHeaders sets the headers every response carries, API included.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// hostPolicy decides which Host headers are accepted. A DNS rebinding attack
// makes a browser send requests for the attacker's name to our address; such a
// name is not on this list, so the page the attacker serves gets nothing.
type hostPolicy struct {
	names    map[string]bool // exact names, lowercased, without a port
	withPort map[string]bool // "name:port" entries of AllowedHosts
	suffixes []string        // ".example.com" for an entry "*.example.com"
}

// newHostPolicy allows the machine's hostname (and its short form) and extra.
func newHostPolicy(extra []string) hostPolicy {
	p := hostPolicy{names: map[string]bool{}, withPort: map[string]bool{}}
	if hn, err := os.Hostname(); err == nil && hn != "" {
		hn = normalizeHost(hn)
		p.names[hn] = true
		short, _, _ := strings.Cut(hn, ".")
		p.names[short] = true
	}
	for _, e := range extra {
		e = normalizeHost(e)
		switch {
		case e == "":
		case strings.HasPrefix(e, "*."):
			p.suffixes = append(p.suffixes, e[1:])
		case strings.Contains(e, ":") && !strings.HasPrefix(e, "["):
			p.withPort[e] = true
		default:
			p.names[e] = true
		}
	}
	return p
}

func normalizeHost(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// check returns a 403 error for a request whose Host is not allowed.
func (p hostPolicy) check(r *http.Request) error {
	if p.allowed(r.Host) {
		return nil
	}
	if r.Host == "" {
		return forbidden("the request has no Host header; send one naming this server")
	}
	return forbidden(fmt.Sprintf("host %q is not allowed; if this server is meant to be reached under that name, "+
		"add it to web_ui.allowed_hosts in the configuration file", r.Host))
}

// allowed reports whether hostport (a Host header) names this server: a
// loopback name, an IP literal, the machine's hostname or an allowed host.
func (p hostPolicy) allowed(hostport string) bool {
	full := normalizeHost(hostport)
	host := full
	if h, _, err := net.SplitHostPort(full); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	switch {
	case host == "":
		return false
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	case isIPLiteral(host):
		// An attacker's page cannot get a browser to send a bare IP as the Host
		// of a request for its own name.
		return true
	case p.names[host] || p.withPort[full]:
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// checkOrigin rejects state-changing requests sent by another site's page
// (CSRF). Browsers send Origin on such requests; scripts usually send none and
// are let through, since a script that can reach the server needs no browser.
func checkOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return forbidden("cross-site request refused (Sec-Fetch-Site: cross-site)")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if !sameOrigin(origin, r.Host) {
		return forbidden(fmt.Sprintf("origin %q does not match host %q; state-changing requests must come from the dashboard itself", origin, r.Host))
	}
	return nil
}

// sameOrigin reports whether the Origin header origin names host (the Host
// header, with a port or not), treating a missing port as the scheme's default.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // includes the opaque origin "null"
	}
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	return withPort(u.Host, def) == withPort(host, def)
}

// withPort lowercases hostport and adds port when it has none.
func withPort(hostport, port string) string {
	hostport = strings.ToLower(hostport)
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), port)
}
