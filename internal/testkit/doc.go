// Package testkit holds helpers for pyvisor's tests that several packages'
// tests need: files, certificates, wheels, free ports, small disks, inotify
// counts, other users, ZIPs, a settable clock and a buffer safe for concurrent
// writers. Only _test.go files import it; the layout test in cmd/pyvisor
// fails if any other file does.
package testkit
