// Package testkit holds helpers for pyvisor's tests that several packages'
// tests need: files, certificates, wheels, free ports, small disks, inotify
// counts, other users, ZIPs, a settable clock, a buffer safe for concurrent
// writers, waits for a program's status or for the state file, and requests.
// Only _test.go files import it; the layout test in cmd/pyvisor fails if any
// other file does.
package testkit
