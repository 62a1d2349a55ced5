package main

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/server"
)

// reloader re-reads the configuration file on SIGHUP (and, with
// --watch-config, when the file changes) and swaps it into the running
// server. A file that does not load, or breaks its own policy rules, is
// refused with the same messages as at start-up; the running
// configuration then stays in force.
type reloader struct {
	path   string
	srv    *server.Server
	logger *slog.Logger
}

// reloadOnce loads the file and applies it. The error, if any, has been
// logged and counted.
func (r *reloader) reloadOnce() error {
	cfg, err := config.Load(r.path)
	if err == nil {
		err = checkPolicyFor(cfg, "refusing to reload")
	}
	if err == nil {
		var restart []string
		if restart, err = r.srv.Reload(cfg); err == nil {
			r.logger.Info("configuration reloaded", "config", r.path)
			if len(restart) > 0 {
				r.logger.Warn("configuration reloaded, but these settings need a restart to change; they keep their running values",
					"settings", strings.Join(restart, ", "))
			}
			return nil
		}
	} else {
		r.srv.NoteRefusedReload()
	}
	r.logger.Error("configuration reload refused; the running configuration stays in force", "config", r.path, "error", err)
	return err
}

// run reloads on every signal from hup, and every watch interval when the
// file's contents changed (watch <= 0: no watching), until ctx ends.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal, watch time.Duration, last string) {
	var tick <-chan time.Time
	if watch > 0 {
		t := time.NewTicker(watch)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.reloadOnce()
			last = fileDigest(r.path)
		case <-tick:
			if d := fileDigest(r.path); d != last {
				last = d
				_ = r.reloadOnce()
			}
		}
	}
}

// fileDigest is a hash of the file's contents ("" when unreadable): a
// content hash rather than a modification time, so an editor's save that
// rewrites the same bytes reloads nothing, and a quick second save within
// one timestamp tick is not missed.
func fileDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// startReloader wires SIGHUP to reloads for the lifetime of ctx. Without
// it, SIGHUP would end the process without draining.
func startReloader(ctx context.Context, path string, srv *server.Server, logger *slog.Logger, watch time.Duration) {
	if path == "" {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	r := &reloader{path: path, srv: srv, logger: logger}
	// The digest of the file as it is now, taken before serve reports it
	// is ready: taken in the goroutine, a save made right after start-up
	// could become the baseline and never be reloaded.
	last := fileDigest(path)
	go func() {
		defer signal.Stop(hup)
		r.run(ctx, hup, watch, last)
	}()
}
