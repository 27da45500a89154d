package main

import (
	"context"
	"fmt"

	"github.com/pyvisor/pyvisor/internal/api"
	notifications "github.com/pyvisor/pyvisor/internal/notify"
)

// notifyTest is pyvisor notify-test: a test notification through every
// target, one line per target; it fails when one failed or none is configured.
func (x *ctl) notifyTest(ctx context.Context) int {
	r, err := x.c.NotifyTest(ctx)
	if err != nil {
		return x.fail(err)
	}
	if len(r.Results) == 0 {
		fmt.Fprintln(x.stderr, "pyvisor notify-test: the configuration has no notify entries")
		return exitFailed
	}
	code := exitOK
	for _, res := range r.Results {
		if res.OK {
			fmt.Fprintf(x.stdout, "%s: sent\n", res.Target)
			continue
		}
		code = exitFailed
		msg := "failed"
		if res.Error != nil {
			msg = "failed: " + *res.Error
		}
		fmt.Fprintf(x.stdout, "%s: %s\n", res.Target, msg)
	}
	return code
}

// notifyResults converts a Notifier's test results to the API's shape. It is pure.
func notifyResults(rs []notifications.Result) []api.NotifyResult {
	out := make([]api.NotifyResult, len(rs))
	for i, r := range rs {
		out[i] = api.NotifyResult{Target: r.Target, OK: r.Err == nil}
		if r.Err != nil {
			msg := r.Err.Error()
			out[i].Error = &msg
		}
	}
	return out
}
