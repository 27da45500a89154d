//go:build !linux

package main

import (
	"errors"
	"time"
)

// checkFloor needs Linux's poll and nonblocking sockets as used here.
func checkFloor(string, bool, int, time.Duration, time.Duration) (time.Duration, int, error) {
	return 0, 0, errors.New("the floor of checks needs Linux")
}
