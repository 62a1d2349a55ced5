// Package cimd resolves OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document; the MCP client registration
// mechanism): a client_id that is an https URL names a JSON document, at
// that very URL, holding the client's metadata (RFC 7591 names). Gatehouse
// fetches it when the client first appears and keeps it as HTTP caching
// allows.
//
// Fetching what a stranger names is a server-side request forgery risk, so
// every fetch is fenced: only hosts the operator allows; never a loopback,
// private, link-local, CGNAT or otherwise internal address, checked on the
// address actually dialled (DNS rebinding cannot slip past); no redirects;
// no proxy from the environment; a small size limit and a deadline. A
// document must name itself (client_id equal to the URL, byte for byte),
// list its redirect URIs, and use no shared secret.
package cimd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Policy is what the operator allows.
type Policy struct {
	// AllowedHosts are host names, or *.domain for any subdomain of
	// domain, whose documents may be fetched; empty allows none.
	AllowedHosts []string
	// AllowLoopback lets documents live on loopback addresses, over http
	// too: tests and local development only.
	AllowLoopback bool
	// MaxBytes bounds a document (default 5 KiB: a client's metadata is a
	// few hundred bytes).
	MaxBytes int64
	// Timeout bounds a whole fetch (default 5s).
	Timeout time.Duration
	// MinTTL and MaxTTL clamp how long a document is kept (defaults 1m
	// and 24h), whatever its Cache-Control says.
	MinTTL, MaxTTL time.Duration
	// Transport, for tests, replaces the fenced transport (its TLS roots,
	// say). The host and address checks still apply: they run in the
	// dialer this package installs when Transport is an *http.Transport.
	Transport *http.Transport
}

// Client is a client as its document describes it, after the checks.
type Client struct {
	ID           string
	Name         string
	RedirectURIs []string
	GrantTypes   []string
	// AuthMethod is "none" (a public client) or "private_key_jwt".
	AuthMethod string
	JWKSURI    string
	JWKS       json.RawMessage
	Scope      string
	// LoopbackOnly: every redirect URI is an http loopback one (a native
	// app, RFC 8252 §7.3): any program on the person's computer could
	// claim to be this client, which the consent page says.
	LoopbackOnly bool
	// RedirectHosts are the redirect URIs' hosts, for the consent page.
	RedirectHosts []string
	ExpiresAt     time.Time
}

// Errors a Resolve may wrap.
var (
	// ErrNotAllowed: the URL is not one the policy lets Gatehouse fetch.
	ErrNotAllowed = errors.New("not allowed by the configuration")
	// ErrUnavailable: the document could not be fetched.
	ErrUnavailable = errors.New("the document could not be fetched")
	// ErrInvalid: the document was fetched and is not acceptable.
	ErrInvalid = errors.New("the document is not a valid client metadata document")
)

// Error says why a document cannot be used, in words fit for an OAuth
// error_description.
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Unwrap lets errors.Is find the kind.
func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, format string, a ...any) *Error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, a...)}
}

// maxEntries bounds the cache; the oldest entries go first.
const maxEntries = 1000

// Resolver fetches, checks and caches documents. It is safe for
// concurrent use; concurrent resolutions of one URL share one fetch.
type Resolver struct {
	p      Policy
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	order   []string
}

type entry struct {
	done    chan struct{}
	client  *Client
	err     error
	expires time.Time
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithClock sets the clock cache lifetimes are judged by.
func WithClock(now func() time.Time) Option { return func(r *Resolver) { r.now = now } }

// New returns a Resolver for p.
func New(p Policy, opts ...Option) *Resolver {
	if p.MaxBytes <= 0 {
		p.MaxBytes = 5 << 10
	}
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Second
	}
	if p.MinTTL <= 0 {
		p.MinTTL = time.Minute
	}
	if p.MaxTTL <= 0 {
		p.MaxTTL = 24 * time.Hour
	}
	t := p.Transport
	if t == nil {
		t = &http.Transport{TLSHandshakeTimeout: p.Timeout, ResponseHeaderTimeout: p.Timeout, MaxIdleConns: 16}
	} else {
		t = t.Clone()
	}
	t.Proxy = nil // a proxy would dial for us, past the address check
	dialer := &net.Dialer{Timeout: p.Timeout, Control: control(p.AllowLoopback)}
	t.DialContext = dialer.DialContext
	r := &Resolver{p: p, now: time.Now, entries: map[string]*entry{},
		client: &http.Client{Transport: t, Timeout: p.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("the document URL redirects; a client's metadata must be served at its client_id itself")
		}}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// control refuses, at connect time, any address that is not public.
func control(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if a := ap.Addr().Unmap(); !publicAddr(a) && !(allowLoopback && a.IsLoopback()) {
			return fmt.Errorf("address %s is not a public one", a)
		}
		return nil
	}
}

// cgnat is RFC 6598 shared address space.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func publicAddr(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a) && !a.IsLoopback() && !a.IsLinkLocalUnicast()
}

// IsMetadataURL reports whether clientID has the shape of a metadata
// document URL (draft §3: https, a path, no fragment or credentials), or
// of an http loopback one (tests). It is cheap and fetches nothing.
func IsMetadataURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://")
}

// checkURL applies the draft's rules for a client_id URL and the policy's
// hosts.
func (r *Resolver) checkURL(id string) (*url.URL, *Error) {
	u, err := url.Parse(id)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return nil, fail(ErrInvalid, "the client_id is not a valid URL")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return nil, fail(ErrInvalid, "a client_id URL has no fragment")
	case u.User != nil:
		return nil, fail(ErrInvalid, "a client_id URL has no user information")
	case u.Path == "" || u.Path == "/":
		return nil, fail(ErrInvalid, "a client_id URL has a path")
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, fail(ErrInvalid, "a client_id URL has no . or .. segments")
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.IndexFunc(host, func(r rune) bool { return r > 0x7e }) >= 0 {
		// Only ASCII (punycode) names: a look-alike Unicode host must not
		// match an allowed one.
		return nil, fail(ErrNotAllowed, "a client_id host must be written in ASCII (punycode)")
	}
	loop := host == "localhost" || func() bool { a, err := netip.ParseAddr(host); return err == nil && a.IsLoopback() }()
	switch {
	case u.Scheme == "http" && !(r.p.AllowLoopback && loop):
		return nil, fail(ErrNotAllowed, "a client_id URL must be https")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fail(ErrInvalid, "a client_id URL must be https")
	case !r.hostAllowed(host):
		return nil, fail(ErrNotAllowed, "host %s is not allowed to publish client metadata here", clip(host))
	}
	return u, nil
}

func (r *Resolver) hostAllowed(host string) bool {
	for _, h := range r.p.AllowedHosts {
		if h == host {
			return true
		}
		if d, ok := strings.CutPrefix(h, "*."); ok && strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// Resolve returns the client of the document at clientID: from the cache
// while it is fresh, else fetched (once, however many callers wait).
func (r *Resolver) Resolve(ctx context.Context, clientID string) (*Client, error) {
	now := r.now()
	r.mu.Lock()
	if e := r.entries[clientID]; e != nil {
		select {
		case <-e.done:
			if now.Before(e.expires) {
				r.mu.Unlock()
				return e.client, e.err
			}
		default:
			r.mu.Unlock()
			return r.wait(ctx, e)
		}
	}
	e := &entry{done: make(chan struct{})}
	r.store(clientID, e)
	r.mu.Unlock()

	// A failure is not kept (the draft's "Metadata Caching": an error
	// response or an invalid document MUST NOT be cached): callers waiting
	// on this fetch share its answer, the next one fetches again.
	c, ttl, err := r.fetch(ctx, clientID)
	e.client, e.err, e.expires = c, err, r.now().Add(ttl)
	close(e.done)
	return c, err
}

func (r *Resolver) wait(ctx context.Context, e *entry) (*Client, error) {
	select {
	case <-e.done:
		return e.client, e.err
	case <-ctx.Done():
		return nil, fail(ErrUnavailable, "the client's metadata document could not be fetched in time")
	}
}

// store keeps e, forgetting the oldest entry when full. r.mu is held.
func (r *Resolver) store(id string, e *entry) {
	if _, ok := r.entries[id]; !ok {
		r.order = append(r.order, id)
	}
	r.entries[id] = e
	for len(r.order) > maxEntries {
		delete(r.entries, r.order[0])
		r.order = r.order[1:]
	}
}

// fetch gets and checks one document and says how long to keep it.
func (r *Resolver) fetch(ctx context.Context, id string) (*Client, time.Duration, error) {
	if _, err := r.checkURL(id); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, 0, fail(ErrInvalid, "the client_id is not a valid URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fail(ErrUnavailable, "the client's metadata document could not be fetched in time")
		}
		return nil, 0, fail(ErrUnavailable, "the client's metadata document could not be fetched: %s", clip(unwrapURLError(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fail(ErrUnavailable, "the client's metadata document answered HTTP %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, 0, fail(ErrInvalid, "the client's metadata document is not application/json")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.p.MaxBytes+1))
	switch {
	case err != nil:
		return nil, 0, fail(ErrUnavailable, "the client's metadata document could not be read in time")
	case int64(len(body)) > r.p.MaxBytes:
		return nil, 0, fail(ErrInvalid, "the client's metadata document is larger than %d bytes", r.p.MaxBytes)
	}
	c, err := ParseDocument(id, body, r.p.AllowLoopback)
	if err != nil {
		return nil, 0, err
	}
	ttl := r.ttl(resp.Header)
	c.ExpiresAt = r.now().Add(ttl)
	return c, ttl, nil
}

// unwrapURLError drops the URL net/http repeats in its errors.
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// ttl is how long the response may be kept (RFC 9111: no-store and
// no-cache not at all, max-age or Expires otherwise), clamped to the
// policy's bounds.
func (r *Resolver) ttl(h http.Header) time.Duration {
	ttl := r.p.MinTTL
	cc := strings.ToLower(h.Get("Cache-Control"))
	switch {
	case strings.Contains(cc, "no-store"), strings.Contains(cc, "no-cache"):
		return 0
	case strings.Contains(cc, "max-age="):
		v := cc[strings.Index(cc, "max-age=")+len("max-age="):]
		if i := strings.IndexAny(v, ", "); i >= 0 {
			v = v[:i]
		}
		if n, err := strconv.Atoi(v); err == nil {
			ttl = time.Duration(n) * time.Second
		}
	default:
		if t, err := http.ParseTime(h.Get("Expires")); err == nil {
			ttl = t.Sub(r.now())
		}
	}
	return min(max(ttl, r.p.MinTTL), r.p.MaxTTL)
}

// clip bounds what a remote party wrote before it reaches a message.
func clip(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
