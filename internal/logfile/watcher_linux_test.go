package logfile

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestWatcherSharesOneInstance follows many logs, some twice, through one
// Watcher: one inotify instance serves them all, every follow gets its lines,
// and the instance is closed once the last follow ends. (Not parallel: other
// tests' follows open instances of their own.)
func TestWatcherSharesOneInstance(t *testing.T) {
	before := testkit.InotifyInstances(t)
	w := NewWatcher()
	dir := t.TempDir()
	const logs, perLog = 20, 2
	ctx, cancel := context.WithCancel(t.Context())
	type follow struct {
		path  string
		lines chan string
		done  chan error
	}
	var follows []follow
	for i := range logs {
		path := filepath.Join(dir, fmt.Sprintf("p%d.log", i))
		if i%2 == 0 {
			testkit.WriteFile(t, path, "") // the others appear later
		}
		for range perLog {
			f := follow{path, make(chan string, 10), make(chan error, 1)}
			started := make(chan struct{})
			go func() {
				f.done <- w.Follow(ctx, path, func() { close(started) }, func(lines []string) error {
					for _, l := range lines {
						f.lines <- l
					}
					return nil
				})
			}()
			<-started
			follows = append(follows, f)
		}
	}
	if got := testkit.InotifyInstances(t) - before; got != 1 {
		t.Errorf("%d follows of %d logs through one Watcher hold %d inotify instances; want 1", len(follows), logs, got)
	}
	for i := range logs {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("p%d.log", i)), fmt.Sprintf("hello %d\n", i))
	}
	for i, f := range follows {
		if got, want := (&followed{lines: f.lines}).next(t, 1)[0], fmt.Sprintf("hello %d", i/perLog); got != want {
			t.Errorf("follow %d of %s got %q; want %q", i, f.path, got, want)
		}
	}
	cancel()
	for _, f := range follows {
		<-f.done
	}
	if got := testkit.InotifyInstances(t) - before; got != 0 {
		t.Errorf("after every follow ended, the Watcher holds %d inotify instances; want 0", got)
	}
}
