package web

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestLogStreamsShareAndAreCapped opens as many live log streams as the
// manager serves: they share one inotify instance (a user may open only 128),
// and one stream more is refused with 503 and a message saying why.
func TestLogStreamsShareAndAreCapped(t *testing.T) {
	atFirst := testkit.InotifyInstances(t)
	f := newFixture(t, baseConfig)
	srv := serve(t, f.h)
	path, _ := f.sup.LogPath("My App")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// The manager's log retainer makes an instance of its own once it runs, a moment after the manager
	// starts: wait for it, so that it is not counted as a stream's.
	before := testkit.InotifyInstances(t)
	for deadline := time.Now().Add(10 * time.Second); before == atFirst && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		before = testkit.InotifyInstances(t)
	}
	url := srv.URL + programPath("My App", "/logs/stream")
	for i := range DefaultMaxLogStreams {
		if s := openStream(t, url); s.resp.StatusCode != http.StatusOK {
			t.Fatalf("GET logs/stream #%d = %d, want 200", i+1, s.resp.StatusCode)
		}
	}
	if got := testkit.InotifyInstances(t) - before; got != 1 {
		t.Errorf("%d live log streams hold %d inotify instances; want 1", DefaultMaxLogStreams, got)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many live log streams") {
		t.Errorf("GET logs/stream beyond %d streams = %d %s; want 503 saying there are too many", DefaultMaxLogStreams, resp.StatusCode, body)
	}
}
