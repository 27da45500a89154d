//go:build !linux

package main

import (
	"errors"
	"time"
)

type floorResult struct {
	rotations int
	cpu       time.Duration
	elapsed   time.Duration
	collapse  time.Duration
	writer    floodStats
}

// bareLoopFloor needs Linux's copy_file_range and collapse range.
func bareLoopFloor(string, int64, int, time.Duration) (floorResult, error) {
	return floorResult{}, errors.New("the floor needs Linux")
}
