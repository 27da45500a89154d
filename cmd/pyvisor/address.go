package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pyvisor/pyvisor/internal/config"
)

// managerAddress is where a client command finds the manager, and what said
// so, for messages ("from PYVISOR_URL").
type managerAddress struct {
	URL    string
	Source string
	// CertFile is the manager's web_ui.tls_cert when the address came from
	// its configuration: the client then trusts exactly that certificate.
	CertFile string
	// TokenFile is where the manager leaves a token for local clients, when
	// the address came from its configuration; "" otherwise.
	TokenFile string
}

// resolveAddress decides where the manager is. Explicit flags win over the
// environment, and the environment over files found by default: --url, then
// the file named by -c, then $PYVISOR_URL, then ./process_manager.yaml, then
// the built-in defaults' http://127.0.0.1:10000. A configuration becomes a URL
// through configURL and webURL, which the manager uses too.
func resolveAddress(flagURL, configPath string, getenv func(string) string) (managerAddress, error) {
	if flagURL != "" {
		return normalizeURL(flagURL, "--url")
	}
	if configPath == "" {
		if v := getenv("PYVISOR_URL"); v != "" {
			return normalizeURL(v, "PYVISOR_URL")
		}
	}
	cfg, usedDefaults, err := loadConfig(configPath)
	if err != nil {
		return managerAddress{}, fmt.Errorf("read the manager's address from the configuration (or give --url): %w", err)
	}
	if usedDefaults {
		return managerAddress{URL: configURL(cfg.WebUI), Source: "the default address"}, nil
	}
	return managerAddress{URL: configURL(cfg.WebUI), Source: cfg.Path, CertFile: cfg.WebUI.TLSCert,
		TokenFile: filepath.Join(cfg.Dir, config.LocalTokenFileName)}, nil
}

// configURL is the URL a client uses to reach a manager listening as w says:
// a wildcard address is reached on the loopback address of its family.
func configURL(w config.WebUI) string {
	host := w.Host
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return webURL(w, host)
}

// webURL is the URL of the web UI that w configures, on host: https with a
// TLS certificate, else http.
func webURL(w config.WebUI, host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	scheme := "http"
	if w.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(w.Port))
}

// normalizeURL checks a URL given by the user. "host:port" alone means http.
func normalizeURL(raw, source string) (managerAddress, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return managerAddress{}, fmt.Errorf("%s: %q is not a URL: %w", source, raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return managerAddress{}, fmt.Errorf("%s: %q: the scheme must be http or https", source, raw)
	case u.Host == "":
		return managerAddress{}, fmt.Errorf("%s: %q names no host", source, raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return managerAddress{}, fmt.Errorf("%s: %q: give the manager's address only, without query, fragment or user", source, raw)
	}
	return managerAddress{URL: strings.TrimSuffix(u.String(), "/"), Source: source}, nil
}

// pinnedTLS returns a TLS configuration that accepts exactly the certificate
// in certFile (PEM, its first certificate), whatever name or address it was
// issued for: the client reaches the manager on a loopback address, which a
// certificate made for the machine's name does not list, and the file it read
// the address from is the one the manager serves with.
func pinnedTLS(certFile string) (*tls.Config, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read web_ui.tls_cert: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("web_ui.tls_cert %s: no PEM certificate", certFile)
	}
	want := block.Bytes
	return &tls.Config{
		// The chain and name checks are replaced by the comparison below, which
		// is stricter: only this one certificate is accepted.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			if len(rawCerts) == 0 || !bytes.Equal(rawCerts[0], want) {
				return fmt.Errorf("the manager's certificate is not the one in %s", certFile)
			}
			return nil
		},
	}, nil
}
