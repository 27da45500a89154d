package notify

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// A notifier subscribes to the events only while its notify list has a target: a manager without
// notifications keeps no buffer of events, and a reload that brings a list, or empties it, is followed.
func TestSubscribesOnlyWithTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		n := New(src, config.Default("/"), Options{Host: "testhost"})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		steps := []struct {
			name string
			cfg  *config.Config
			want int
		}{
			{"no notify list", nil, 0},
			{"a reload brings a webhook", webhookConfig("http://127.0.0.1:1/never-called"), 1},
			{"a reload keeps it", webhookConfig("http://127.0.0.1:1/never-called"), 1},
			{"a reload empties the list", config.Default("/"), 0},
			{"a reload brings one again", webhookConfig("http://127.0.0.1:1/never-called"), 1},
		}
		for _, st := range steps {
			if st.cfg != nil {
				n.SetConfig(st.cfg)
			}
			synctest.Wait()
			if got := src.subscriptions(); got != st.want {
				t.Errorf("%s: %d subscriptions to the events, want %d", st.name, got, st.want)
			}
		}
		cancel()
		<-done
		if got := src.subscriptions(); got != 0 {
			t.Errorf("after Run returned: %d subscriptions, want 0", got)
		}
	})
}

// A webhook that a reload adds to a manager started without notifications gets the events after it.
func TestNotifyListAddedByReload(t *testing.T) {
	h := newHook(t)
	src := newSource()
	n := New(src, config.Default("/"), Options{Host: "testhost"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	src.emit("web", supervisor.EventBroken, nil, "before the list came", false)
	n.SetConfig(webhookConfig(h.URL))
	src.subscribed(t, 1)
	src.emit("web", supervisor.EventExited, code(1), "exit status 1", true)
	if m := h.next(t); m.Program != "web" || m.Event != "crashed" {
		t.Errorf("after a reload added a webhook, it got %+v, want web crashed", m)
	}
	if got := h.requests(); got != 1 {
		t.Errorf("webhook got %d requests, want 1 (an event before the list came is not news)", got)
	}
}
