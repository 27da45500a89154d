package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"

	notifications "github.com/pyvisor/pyvisor/internal/notify"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/web"
)

// reloader re-reads the configuration file the manager runs and has the
// supervisor apply it, on SIGHUP and for POST /api/reload.
type reloader struct {
	sup *supervisor.Supervisor
	log *slog.Logger
	// notifier takes the notify list of each file applied; nil in tests that need none.
	notifier *notifications.Notifier

	// mu makes each reload one step from reading the file to applying it, so
	// that a file read earlier is never applied after one read later.
	mu sync.Mutex
	// path is the file in effect, absolute; "" while the manager runs on the
	// built-in defaults. Guarded by mu.
	path string
}

// reload loads the file again (without -c, when the manager started on the
// built-in defaults, it looks for ./process_manager.yaml again) and applies
// it. A file that cannot be loaded changes nothing; the error wraps
// web.ErrInvalidConfig and carries the loader's whole report.
func (r *reloader) reload(ctx context.Context) (supervisor.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, usedDefaults, err := loadConfig(r.path)
	if err != nil {
		r.sup.RecordConfigError(err)
		return supervisor.ReloadResult{}, fmt.Errorf("%w:\n%w", web.ErrInvalidConfig, err)
	}
	if usedDefaults {
		return supervisor.ReloadResult{}, fmt.Errorf("%w: no %s in %s (%w); still running on the built-in defaults",
			web.ErrInvalidConfig, defaultConfigName, cfg.Dir, fs.ErrNotExist)
	}
	res, err := r.sup.Reload(ctx, cfg)
	if err != nil {
		return res, err
	}
	// From now on this file is the configuration: should it go away, a reload
	// reports that rather than falling back to the defaults and removing every
	// program.
	r.path = cfg.Path
	if r.notifier != nil {
		r.notifier.SetConfig(cfg)
	}
	return res, nil
}

// onSignals reloads at each signal on hup until ctx ends. Failures are
// logged (the supervisor logs what a reload changed); a bad file never stops
// the manager.
func (r *reloader) onSignals(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("SIGHUP: reloading the configuration")
			if _, err := r.reload(ctx); err != nil {
				r.log.Error("reload", "err", err)
			}
		}
	}
}
