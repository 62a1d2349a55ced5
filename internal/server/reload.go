package server

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/events"
)

// Reload replaces the configuration in force with cfg, which the caller
// has loaded and checked exactly as at start-up (config.Load and the
// policy rules). Clients, users, scopes, audiences, policy, routes,
// admins, trusted proxies and token lifetimes change at once: requests
// that arrive afterwards see the new configuration, requests in flight
// finish on the old one. Nothing shared is reset: rate limits, lockouts,
// usage counts, sessions and keys carry over.
//
// Settings the running process cannot change (see RestartOnly) keep their
// running values and are returned, so the caller can say that they need a
// restart. On an error nothing changes: the old configuration stays in
// force. Reloads are serialised.
func (s *Server) Reload(cfg *config.Config) (needRestart []string, err error) {
	if cfg == nil {
		return nil, errors.New("server: Reload needs a configuration")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.cur.Load()
	next := *cfg
	needRestart = RestartOnly(old.cfg, &next)
	srv, err := s.build(&next)
	if err != nil {
		s.NoteRefusedReload()
		return nil, err
	}
	s.usage.extend(&next)
	s.cur.Store(srv)
	// The old version's directory connections go; a request still on it
	// that needs one opens a new one.
	old.sources.close()
	s.reloads.WithLabelValues("applied").Inc()
	s.events.Emit(context.Background(), events.ConfigReload(true, 0))
	return needRestart, nil
}

// NoteRefusedReload records a refused reload, also one the caller refused
// before it reached Reload (the file did not load, or broke its policy):
// the metric and the audit trail.
func (s *Server) NoteRefusedReload() {
	s.reloads.WithLabelValues("refused").Inc()
	s.events.Emit(context.Background(), events.ConfigReload(false, 1))
}

// RestartOnly lists the settings of next that differ from running but
// cannot change in a running process, and sets them in next to their
// running values: the listen address, TLS and the store are opened once;
// the issuer is in every token, cookie name and key; the signing
// algorithm and rotation period belong to the key ring.
func RestartOnly(running, next *config.Config) []string {
	var out []string
	keep := func(name string, differs bool, restore func()) {
		if differs {
			out = append(out, name)
			restore()
		}
	}
	keep("listen", next.Listen != running.Listen, func() { next.Listen = running.Listen })
	keep("storage", next.Storage != running.Storage, func() { next.Storage = running.Storage })
	keep("issuer", next.Issuer != running.Issuer, func() { next.Issuer = running.Issuer })
	keep("signing_alg", next.SigningAlg != running.SigningAlg, func() { next.SigningAlg = running.SigningAlg })
	keep("key_rotation_period", next.KeyRotationPeriod != running.KeyRotationPeriod,
		func() { next.KeyRotationPeriod = running.KeyRotationPeriod })
	// The listener is TLS or not from the start; new certificate files
	// at the same paths are picked up without a reload.
	keep("tls", tlsFiles(next.TLS) != tlsFiles(running.TLS), func() { next.TLS = running.TLS })
	return out
}

// newReloadCounter registers gatehouse_config_reloads_total.
func newReloadCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_config_reloads_total",
		Help: "Configuration reloads, by result: applied, or refused (the old configuration stays in force).",
	}, []string{"result"})
	reg.MustRegister(c)
	return c
}

// tlsFiles names the certificate files of t, "" without TLS.
func tlsFiles(t *config.TLS) string {
	if t == nil {
		return ""
	}
	return t.CertFile + "\x00" + t.KeyFile
}
