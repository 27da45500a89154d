package api

// NotifyTest is the body of POST /api/notify/test's answer: how a test
// notification through each entry of the notify list went, in its order.
type NotifyTest struct {
	// Results are [] when no notifications are configured, never null.
	Results []NotifyResult `json:"results"`
}

// NotifyResult is how a test notification through one target went.
type NotifyResult struct {
	// Target names it without its secrets: "notify[0]: webhook https://hooks.example.com/…",
	// "notify[1]: command /usr/local/bin/page-me".
	Target string `json:"target"`
	// OK tells whether it was delivered: a webhook answered 2xx, a command exited 0.
	OK bool `json:"ok"`
	// Error says why not, or is null.
	Error *string `json:"error"`
}
