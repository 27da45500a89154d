package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
)

// Which credentials the client commands may send where.

// envTokenWithheld says why PYVISOR_TOKEN must not be sent to addr, or
// returns "" when it may be: to an address the user gave (--url,
// PYVISOR_URL) or a loopback one. An address read from a configuration file,
// such as a process_manager.yaml in whatever directory the command runs in,
// is whoever wrote that file's choice, and the token would be theirs. It is
// pure.
func envTokenWithheld(addr managerAddress) string {
	if addr.Source == "--url" || addr.Source == "PYVISOR_URL" {
		return ""
	}
	if u, err := url.Parse(addr.URL); err == nil && isLoopbackHost(u.Hostname()) {
		return ""
	}
	return fmt.Sprintf("that address comes from %s, not from --url or PYVISOR_URL, and is not a loopback address; "+
		"give it with --url or PYVISOR_URL to send the token there", addr.Source)
}

// fileTokenWithheld says why the token in a local token file must not be
// sent to addr, or returns "" when it may be: to a loopback address or one of
// local, this machine's own. The file and the address come from a
// configuration that anyone may have written (a process_manager.yaml in the
// current directory), and its token file may be a link to a real manager's:
// the token is only for the manager on this machine. A host name is not
// resolved, since what it names can change between the check and the
// connection. It is pure.
func fileTokenWithheld(addr managerAddress, local []netip.Addr) string {
	u, err := url.Parse(addr.URL)
	if err != nil {
		return "the address is not a URL"
	}
	host := u.Hostname()
	if isLoopbackHost(host) {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && slices.Contains(local, ip.Unmap().WithZone("")) {
		return ""
	}
	return "it is not a loopback address nor one of this machine's; give the token with PYVISOR_TOKEN and the address with --url"
}

// localAddrs lists the addresses of this machine's network interfaces; none
// when they cannot be read.
func localAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}
