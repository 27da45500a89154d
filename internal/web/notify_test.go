package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
)

func TestNotifyTestRoute(t *testing.T) {
	f := newFixture(t, "programs: []\n")
	if r := f.do(t, "POST", "/api/notify/test", nil); r.status != http.StatusNotImplemented {
		t.Errorf("POST /api/notify/test without Options.TestNotify = %d %s, want 501", r.status, r.body)
	}
	calls := 0
	boom := "answered 500 Internal Server Error"
	f.h = NewHandler(Options{Supervisor: f.sup, TestNotify: func(context.Context) []api.NotifyResult {
		calls++
		return []api.NotifyResult{{Target: "notify[0]: webhook https://h.example/…", OK: true},
			{Target: "notify[1]: command page-me", Error: &boom}}
	}})
	r := f.do(t, "POST", "/api/notify/test", nil)
	got := decode[api.NotifyTest](t, "POST /api/notify/test", r)
	if r.status != http.StatusOK || len(got.Results) != 2 || !got.Results[0].OK || got.Results[1].Error == nil || *got.Results[1].Error != boom {
		t.Errorf("POST /api/notify/test = %d %s, want 200 with both results", r.status, r.body)
	}
	if !strings.Contains(r.body, `"error":null`) {
		t.Errorf("POST /api/notify/test = %s, want \"error\":null for the delivered one", r.body)
	}
	if r := f.do(t, "GET", "/api/notify/test", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/notify/test = %d, want 405", r.status)
	}
	if r := f.do(t, "POST", "/api/notify/test", nil, "Origin", "http://evil.example"); r.status != http.StatusForbidden {
		t.Errorf("POST /api/notify/test from another site = %d %s, want 403", r.status, r.body)
	}
	if calls != 1 {
		t.Errorf("TestNotify was called %d times, want once (only the allowed POST)", calls)
	}
	f.h = NewHandler(Options{Supervisor: f.sup, TestNotify: func(context.Context) []api.NotifyResult { return nil }})
	if r := f.do(t, "POST", "/api/notify/test", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"results":[]`) {
		t.Errorf("POST /api/notify/test without targets = %d %s, want 200 with \"results\":[]", r.status, r.body)
	}
}
