// Package testkit holds helpers for pyvisor's tests that several packages'
// tests need: files, certificates, wheels, free ports, small disks, inotify
// counts and other users. Only _test.go files import it; the layout test in
// cmd/pyvisor fails if any other file does.
package testkit
