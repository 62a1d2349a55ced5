// Package tlsfiles serves a certificate and key pair read from files, and
// picks up new files without a restart, for tls.Config.GetCertificate.
//
// Reload is lazy: a handshake checks the files (one stat each) when the
// last check is at least Options.Interval old (one second by default), and
// reads them again only when a file's size, modification time or identity
// (inode, which changes when a file is replaced by rename, as certbot and
// Kubernetes secret mounts do) differs. No goroutine runs, nothing needs
// stopping, and an idle server does no work. A new pair is first used by
// the first handshake at least Interval after it is written.
//
// A pair that does not load (a half-written file, a certificate that does
// not match the key) is logged once and the last good pair stays in use;
// the files are tried again at the next check, so writing the second file
// of the pair completes the change. Write the files by rename where you
// can, so that a handshake never reads half a file.
package tlsfiles

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultInterval is how often, at most, handshakes check the files.
const DefaultInterval = time.Second

// Options tune a Pair; the zero value is ready to use.
type Options struct {
	// Interval is the least time between two checks of the files;
	// 0 means DefaultInterval, a negative value checks at every handshake.
	Interval time.Duration
	// Logger receives reloads and failed reloads; nil means slog.Default.
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
}

// Pair is a certificate and key loaded from two files. It is safe for
// concurrent use.
type Pair struct {
	certFile, keyFile string
	o                 Options

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     stamp     // of the files cert was read from
	failed    stamp     // of the last files that did not load, not to log them twice
	failedErr string    // and why
	lastCheck time.Time // of the files, by o.Now
}

// stamp identifies a version of both files without reading them.
type stamp struct {
	cert, key os.FileInfo
}

func (s stamp) equal(t stamp) bool {
	return sameVersion(s.cert, t.cert) && sameVersion(s.key, t.key)
}

func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Load reads the pair, which must be valid, and returns a Pair that keeps
// it current.
func Load(certFile, keyFile string, o Options) (*Pair, error) {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Pair{certFile: certFile, keyFile: keyFile, o: o}
	st, err := p.stat()
	if err != nil {
		return nil, err
	}
	cert, err := LoadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	p.cert, p.stamp, p.lastCheck = cert, st, o.Now()
	return p, nil
}

// LoadPair reads and parses a certificate (with its chain) and its private
// key, saying which file is at fault when it can.
func LoadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

func (p *Pair) stat() (stamp, error) {
	// A missing file leaves its half of the stamp nil, so that the stamp
	// still tells one failure from the next.
	var st stamp
	c, cerr := os.Stat(p.certFile)
	if cerr == nil {
		st.cert = c
	}
	k, kerr := os.Stat(p.keyFile)
	if kerr == nil {
		st.key = k
	}
	switch {
	case cerr != nil:
		return st, fmt.Errorf("TLS certificate: %w", cerr)
	case kerr != nil:
		return st, fmt.Errorf("TLS key: %w", kerr)
	}
	return st, nil
}

// Certificate returns the pair in use, after checking the files if the
// last check is Interval old.
func (p *Pair) Certificate() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.o.Now()
	if p.o.Interval > 0 && now.Sub(p.lastCheck) < p.o.Interval {
		return p.cert
	}
	p.lastCheck = now
	st, err := p.stat()
	if err == nil && st.equal(p.stamp) {
		return p.cert
	}
	var cert *tls.Certificate
	if err == nil {
		cert, err = LoadPair(p.certFile, p.keyFile)
	}
	if err != nil {
		// Logged once per version of the files and error, not at every
		// check while an operator is halfway through replacing them.
		if !st.equal(p.failed) || err.Error() != p.failedErr {
			p.o.Logger.Error("TLS certificate not reloaded: keeping the previous one",
				"cert_file", p.certFile, "key_file", p.keyFile, "error", err)
		}
		p.failed, p.failedErr = st, err.Error()
		return p.cert
	}
	p.cert, p.stamp, p.failed, p.failedErr = cert, st, stamp{}, ""
	p.o.Logger.Info("TLS certificate reloaded", "cert_file", p.certFile, "not_after", cert.Leaf.NotAfter)
	return p.cert
}

// GetCertificate is for tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.Certificate(), nil
}

// ServerConfig returns a server configuration that presents the pair:
// TLS 1.2 or later, and HTTP/2 offered before HTTP/1.1.
func (p *Pair) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: p.GetCertificate,
		// http.Server.ServeTLS adds these too; set here so the listener
		// negotiates h2 however it is served.
		NextProtos: []string{"h2", "http/1.1"},
	}
}
