package main

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// listenTLS is the TLS configuration of a listener that presents the
// certificate in certFile and keyFile, reloaded when they change (see
// package tlsfiles): TLS 1.2 or later, HTTP/2 offered. now is the clock
// of the reload checks; nil means time.Now (tests set it). runHTTP
// serves TLS when http.Server.TLSConfig is set.
func listenTLS(certFile, keyFile string, logger *slog.Logger, now func() time.Time) (*tls.Config, error) {
	pair, err := tlsfiles.Load(certFile, keyFile, tlsfiles.Options{Logger: logger, Now: now})
	if err != nil {
		return nil, err
	}
	return pair.ServerConfig(), nil
}

// proxyTLS is the proxy's TLS configuration from --tls-cert and
// --tls-key, or nil when neither is given.
func proxyTLS(f proxyFlags, logger *slog.Logger) (*tls.Config, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "":
		return nil, nil
	case f.tlsCert == "" || f.tlsKey == "":
		return nil, errors.New("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither for plain HTTP")
	}
	return listenTLS(f.tlsCert, f.tlsKey, logger, f.tlsNow)
}
