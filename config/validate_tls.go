package config

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"
)

// validateTLS checks what the file says about TLS; the files themselves
// are read by CheckTLSFiles. issuerLine is where issuer: is.
func (d *decoder) validateTLS(cfg *Config, issuerLine int) {
	t := cfg.TLS
	if t == nil {
		return
	}
	p := d.posOf(t)
	t.certLine, t.keyLine = p.at("cert_file"), p.at("key_file")
	const hint = "write tls: {cert_file: PATH, key_file: PATH}, or remove tls: to serve plain HTTP behind a reverse proxy that terminates TLS"
	// A misspelt key is most likely the missing one, and a tls: that is
	// not a mapping has no keys at all: either is reported already.
	reported := p.unknownKeys || slices.ContainsFunc(d.problems, func(q Problem) bool { return q.Line == t.Line })
	switch {
	case reported:
	case t.CertFile == "" && t.KeyFile == "":
		d.add(t.Line, hint, "tls has neither cert_file nor key_file")
	case t.CertFile == "":
		d.add(t.Line, hint, "tls has a key_file but no cert_file")
	case t.KeyFile == "":
		d.add(t.Line, hint, "tls has a cert_file but no key_file")
	}
	// With tls: the listener speaks HTTPS only, so an http:// issuer
	// would publish endpoint URLs that nothing answers. Refused rather
	// than warned about: every client would fail anyway.
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Scheme == "http" {
		d.add(issuerLine, "with tls: set the server answers HTTPS only; write https://"+u.Host+u.Path,
			"issuer %q is http:// but tls is set", cfg.Issuer)
	}
}

// CheckTLSFiles reads the tls: certificate and key and checks that they
// make a pair that has not expired; nil when there is no tls:. Problems
// are reported, as Parse reports its own, at the lines of cert_file and
// key_file. Parse does not read the files because `gatehouse audit` runs
// where the key is not, such as a CI job over a configuration repository;
// serve calls this before it listens.
func (c *Config) CheckTLSFiles() error {
	t := c.TLS
	if t == nil || t.CertFile == "" || t.KeyFile == "" {
		return nil
	}
	var ps []Problem
	add := func(line int, hint, format string, args ...any) {
		ps = append(ps, Problem{File: c.Path, Line: line, Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	certPEM, cerr := os.ReadFile(t.CertFile)
	if cerr != nil {
		add(t.certLine, "check the path and that the server's user may read it", "tls cert_file cannot be read: %v", cerr)
	}
	keyPEM, kerr := os.ReadFile(t.KeyFile)
	if kerr != nil {
		add(t.keyLine, "check the path and that the server's user may read it", "tls key_file cannot be read: %v", kerr)
	}
	if cerr == nil && kerr == nil {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		switch {
		case err != nil:
			add(t.certLine, "cert_file must hold the PEM certificate (then any intermediates) and key_file its PEM private key",
				"tls cert_file %q and key_file %q are not a certificate and its key: %v", t.CertFile, t.KeyFile, err)
		case time.Now().After(cert.Leaf.NotAfter):
			add(t.certLine, "renew the certificate", "tls cert_file %q expired on %s", t.CertFile, cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	if len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}
