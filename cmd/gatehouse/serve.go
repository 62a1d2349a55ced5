package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/audit"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

func newServeCmd(getenv env) *cobra.Command {
	var cfgPath, logFormat, logLevel, auditLog string
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the authorization server",
		Long: `Run the authorization server with the given configuration.

It opens the store named by "storage:" (sqlite:PATH by default), loads or creates
the signing key ring, and serves discovery, JWKS, the token endpoint and
introspection on "listen:" (HTTPS when "tls:" names a certificate and key, which
are reread when they change). SIGINT or SIGTERM drain in-flight requests and stop.
SIGHUP (or a change of the file, with --watch-config) reloads the configuration:
a valid one replaces clients, users, policy and routes at once, an invalid one is
refused and logged, and the running configuration stays in force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if err := checkPolicy(cfg); err != nil {
				return err
			}
			if o.accessLog {
				bw := newBufferedWriter(cmd.ErrOrStderr(), 200*time.Millisecond)
				defer bw.Close()
				if o.accessLogger, err = newLogger(bw, logFormat, logLevel); err != nil {
					return err
				}
			}
			sink, closeAudit, err := openAuditLog(auditLog, cmd.OutOrStdout(), logger)
			if err != nil {
				return err
			}
			defer closeAudit()
			o.events = sink
			return serve(cmd.Context(), cfg, getenv, logger, o, nil)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().BoolVar(&o.accessLog, "access-log", true, "log one line per request (never tokens or secrets)")
	cmd.Flags().StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address instead of the main listener (to anyone who can connect to it)")
	cmd.Flags().DurationVar(&o.gcInterval, "gc-interval", 10*time.Minute, "how often expired codes, sessions and tokens are deleted")
	cmd.Flags().DurationVar(&o.usageFlush, "usage-flush-interval", server.DefaultUsageFlushInterval, "how often token issuance counts are written to the store (and once at shutdown); see gatehouse audit --usage")
	cmd.Flags().DurationVar(&o.watchConfig, "watch-config", 0, "also reload the configuration when the file changes, checked this often (e.g. 5s); SIGHUP always reloads")
	auditLogFlag(cmd, &auditLog)
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// checkPolicy refuses a configuration that breaks its own policy rules:
// serving it would issue tokens the policy forbids. It runs the audit's
// evaluation, so serve and `gatehouse audit` cannot disagree.
func checkPolicy(cfg *config.Config) error { return checkPolicyFor(cfg, "refusing to start") }

// checkPolicyFor is checkPolicy with the verb of its message.
func checkPolicyFor(cfg *config.Config, refusing string) error {
	vs := audit.Evaluate(cfg)
	if len(vs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s breaks its policy (%d violation", refusing, cfg.Path, len(vs))
	if len(vs) > 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, v := range vs {
		b.WriteString("\n  ✗ ")
		b.WriteString(v.String())
	}
	fmt.Fprintf(&b, "\nfix the configuration or the rule; gatehouse audit --config %s shows the full report", cfg.Path)
	return errors.New(b.String())
}

func newLogger(w interface{ Write([]byte) (int, error) }, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// openStore opens the backend a storage URL names.
func openStore(ctx context.Context, url string) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite:"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("storage: %q is neither sqlite:PATH nor a postgres:// URL", config.RedactStorage(url))
}

// keyOptions derives the key ring settings from the configuration.
func keyOptions(cfg *config.Config, getenv env, logger *slog.Logger) keys.Options {
	sec, _ := getenv("GATEHOUSE_SECRET")
	return keys.Options{
		Alg:            cfg.SigningAlg,
		Secret:         sec,
		RotationPeriod: cfg.KeyRotationPeriod,
		// A retired key stays published until every token it signed has
		// expired, plus verifiers' clock leeway and JWKS cache lifetime.
		RetireAfter: cfg.AccessTokenTTL + 10*time.Minute,
		Logger:      logger,
	}
}

// serveOptions are serve's command-line settings.
type serveOptions struct {
	accessLog     bool
	accessLogger  *slog.Logger // nil: the main logger
	metricsListen string
	gcInterval    time.Duration
	usageFlush    time.Duration
	// watchConfig, when positive, reloads the configuration when the
	// file changes, checked this often (SIGHUP always reloads).
	watchConfig time.Duration
	events      events.Sink      // the audit trail; nil drops it
	tlsNow      func() time.Time // clock of the certificate reload checks; nil: time.Now
}

// serve runs until ctx is cancelled. ready, when not nil, receives the
// bound address once the server accepts connections (used by tests).
func serve(ctx context.Context, cfg *config.Config, getenv env, logger *slog.Logger, o serveOptions, ready chan<- string) error {
	st, err := openStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer st.Close()
	ring, err := keys.Open(ctx, st, withRotationEvents(keyOptions(cfg, getenv, logger), o.events))
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{Config: cfg, Keys: ring, Store: st, Logger: logger,
		AccessLog: o.accessLog, AccessLogger: o.accessLogger, MetricsOnMainListener: o.metricsListen == "",
		Events: o.events})
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if cfg.TLS != nil {
		if err := cfg.CheckTLSFiles(); err != nil {
			return err
		}
		if tlsConf, err = listenTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile, logger, o.tlsNow); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		TLSConfig:         tlsConf,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ringCtx, stopRing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRing()
	go ring.Run(ringCtx)
	go collectGarbage(ringCtx, st, o.gcInterval, logger)
	go srv.RunUsage(ringCtx, o.usageFlush)
	startReloader(ringCtx, cfg.Path, srv, logger, o.watchConfig)
	if o.metricsListen != "" {
		ms := &http.Server{Addr: o.metricsListen, Handler: srv.Metrics(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener", "error", err)
			}
		}()
		defer ms.Close()
	}

	if cfg.HasPlainSecrets() {
		logger.Warn("the configuration holds plain-text client secrets or passwords: fine for development, use password_hash / hashed secrets in production")
	}
	if tlsConf == nil && strings.HasPrefix(cfg.Issuer, "https://") && len(cfg.TrustedProxies) == 0 {
		logger.Warn("serving plain HTTP for an https issuer: if a reverse proxy terminates TLS, list it in trusted_proxies so that rate limits and logs see the clients' addresses; or set tls: to serve HTTPS directly")
	}
	logger.Info("gatehouse listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "issuer", cfg.Issuer, "storage", config.RedactStorage(cfg.Storage), "alg", cfg.SigningAlg)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	// Every request has finished (or the drain timed out) when the hook
	// runs: the counts of the last tokens go to the store before it closes.
	return runHTTP(ctx, hs, ln, 20*time.Second, logger, func(ctx context.Context) {
		if err := srv.FlushUsage(ctx); err != nil {
			logger.Error("writing token usage counts at shutdown failed", "error", err)
		}
	})
}

// runHTTP serves on ln (with TLS when hs.TLSConfig is set, whose
// certificate ServeTLS then takes from the configuration, not from files)
// until ctx is done, then drains in-flight requests
// for at most drain, calls afterDrain (if any) and returns.
func runHTTP(ctx context.Context, hs *http.Server, ln net.Listener, drain time.Duration, logger *slog.Logger, afterDrain func(context.Context)) error {
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if afterDrain != nil {
		afterDrain(sctx)
	}
	if shutdownErr != nil {
		return shutdownErr
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// collectGarbage deletes expired state every interval. Every instance may
// run it: deletions are idempotent and done in small batches.
func collectGarbage(ctx context.Context, st store.Store, every time.Duration, logger *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.DeleteExpired(ctx, time.Now())
			if err != nil {
				logger.Error("garbage collection failed", "error", err)
			} else if n > 0 {
				logger.Info("garbage collection", "deleted", n)
			}
		}
	}
}
