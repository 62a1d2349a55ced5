package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// key is one parsed verification key. Keys are immutable once published in
// a snapshot, except for retired, which a refresh sets when the issuer has
// stopped publishing the key; cached verifications check it on every hit.
type key struct {
	kid     string
	alg     string
	pub     crypto.PublicKey // *ecdsa.PublicKey (P-256), ed25519.PublicKey or *rsa.PublicKey
	retired atomic.Bool
}

// keySnapshot is an immutable view of the issuer's JWK Set, swapped
// atomically so the hot path reads keys without locking.
type keySnapshot struct {
	byKid   map[string][]*key
	fetched time.Time
	// skipped says why published keys were not usable, for Explain.
	skipped []string
}

// maxJWKSBytes bounds discovery and JWKS responses.
const maxJWKSBytes = 1 << 20

// keySet holds the issuer's keys and refreshes them: on an unknown kid (at
// most once per minInterval, concurrent refreshes collapsed into one fetch)
// and, in the background, when the snapshot is older than maxAge. A failed
// refresh keeps the keys already held, so an unreachable issuer does not
// stop verification of tokens signed by known keys.
type keySet struct {
	client      *http.Client
	url         string // "" when the keys are static
	clock       func() time.Time
	minInterval time.Duration
	maxAge      time.Duration

	cur atomic.Pointer[keySnapshot]

	mu       sync.Mutex
	inflight *refreshCall
	// lastAttempt is the clock's UnixNano at the last fetch start; written
	// under mu, read without it by the stale-snapshot fast path.
	lastAttempt atomic.Int64
	fetches     atomic.Int64
}

type refreshCall struct {
	done chan struct{}
	err  error
}

// errRateLimited means a refresh was due but the last one was too recent.
var errRateLimited = errors.New("key set refreshed less than the minimum refresh interval ago")

// lookup returns the key for the token's kid and alg, refreshing once when
// the kid is unknown. A kid that exists only for other algorithms is an
// algorithm failure, not a key failure: RFC 8725 §3.1 requires the alg to
// match the key, and the key decides.
//
// Before treating a kid as unknown, lookup asks refused whether the token
// fails a check that needs no key; if so it returns that error and neither
// refreshes nor reports a key failure. Tokens from another issuer, for
// another API or long expired then cost no fetch (and cannot use up the
// refresh budget that a real key rotation needs), and their error names the
// actual problem. refused only ever refuses: the claims it reads are not
// verified yet.
func (ks *keySet) lookup(ctx context.Context, kid, alg string, now time.Time, refused func() *Error) (*key, *Error) {
	snap := ks.cur.Load()
	if ks.url != "" && ks.maxAge > 0 && now.Sub(snap.fetched) > ks.maxAge && ks.mayFetch(now) {
		ks.start(ctx, now) // background; the current keys serve meanwhile
	}
	if kid == "" {
		// Without a kid no refresh could help; do not let such tokens
		// trigger fetches.
		return nil, fail(CheckKey, CodeMissing, "the token has no kid header, so no key can be selected", "", "")
	}
	keys := snap.byKid[kid]
	if keys == nil {
		if e := refused(); e != nil {
			return nil, e
		}
	}
	var refreshErr error
	if keys == nil && ks.url != "" {
		refreshErr = ks.refresh(ctx, now, false)
		snap = ks.cur.Load()
		keys = snap.byKid[kid]
	}
	for _, k := range keys {
		if k.alg == alg {
			return k, nil
		}
	}
	if len(keys) > 0 {
		return nil, fail(CheckAlgorithm, CodeKeyMismatch, "the token says alg "+alg+" but key "+kid+" is an "+keys[0].alg+" key", alg, keys[0].alg)
	}
	e := fail(CheckKey, CodeUnknownKey, "no key with kid "+kid+" in the issuer's key set", kid, "")
	switch {
	case ks.url == "":
		e.Reason = "no key with kid " + kid + " in the static key set"
	case refreshErr == errRateLimited:
		e.Reason += " (not refetched: the last fetch was less than " + ks.minInterval.String() + " ago)"
	case refreshErr != nil:
		e.Reason += " and the key set could not be refreshed"
		e.Code = CodeKeyRefreshFailed
		e.Err = refreshErr
	default:
		e.Reason += ", even after refetching it"
	}
	return nil, e
}

// refresh fetches the key set unless one was fetched less than minInterval
// ago (force skips that limit). Callers arriving while a fetch runs share
// it. The fetch runs detached from ctx so that one caller giving up does
// not fail the others; ctx only bounds this caller's wait.
func (ks *keySet) refresh(ctx context.Context, now time.Time, force bool) error {
	ks.mu.Lock()
	c := ks.inflight
	if c == nil {
		if !force && !ks.mayFetch(now) {
			ks.mu.Unlock()
			return errRateLimited
		}
		c = ks.launchLocked(ctx, now)
	}
	ks.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start begins a background refresh if one is allowed and none runs.
func (ks *keySet) start(ctx context.Context, now time.Time) {
	ks.mu.Lock()
	if ks.inflight == nil && ks.mayFetch(now) {
		ks.launchLocked(ctx, now)
	}
	ks.mu.Unlock()
}

// mayFetch reports whether minInterval has passed since the last fetch
// started (failed fetches count too, so a flood of unknown kids cannot
// hammer an issuer that is down).
func (ks *keySet) mayFetch(now time.Time) bool {
	last := ks.lastAttempt.Load()
	return last == 0 || now.UnixNano()-last >= int64(ks.minInterval)
}

func (ks *keySet) launchLocked(ctx context.Context, now time.Time) *refreshCall {
	ks.lastAttempt.Store(now.UnixNano())
	c := &refreshCall{done: make(chan struct{})}
	ks.inflight = c
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	go func() {
		defer cancel()
		c.err = ks.fetch(fctx)
		ks.mu.Lock()
		ks.inflight = nil
		ks.mu.Unlock()
		close(c.done)
	}()
	return c
}

// fetchTimeout bounds one discovery or JWKS request when the HTTP client
// has no timeout of its own.
const fetchTimeout = 30 * time.Second

func (ks *keySet) fetch(ctx context.Context) error {
	ks.fetches.Add(1)
	body, err := get(ctx, ks.client, ks.url)
	if err != nil {
		return err
	}
	snap, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", ks.url, err)
	}
	snap.fetched = ks.clock()
	ks.swap(snap)
	return nil
}

// swap publishes snap. Keys unchanged since the previous snapshot keep
// their identity (so cached verifications stay valid); keys that are gone
// are marked retired so cached verifications made with them end now.
func (ks *keySet) swap(snap *keySnapshot) {
	old := ks.cur.Load()
	if old != nil {
		for kid, keys := range snap.byKid {
			for i, k := range keys {
				for _, o := range old.byKid[kid] {
					if o.alg == k.alg && sameKey(o.pub, k.pub) {
						keys[i] = o
					}
				}
			}
		}
	}
	ks.cur.Store(snap)
	if old != nil {
		for kid, keys := range old.byKid {
			for _, o := range keys {
				if !slices.Contains(snap.byKid[kid], o) {
					o.retired.Store(true)
				}
			}
		}
	}
}

func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// get fetches url with a size limit; only 200 OK is success.
func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", u, maxJWKSBytes)
	}
	return body, nil
}

// discover reads the OpenID Provider metadata (OIDC Discovery 1.0 §4) and
// returns jwks_uri. The document's issuer must equal the configured one
// exactly (§4.3), or a document served for another issuer could supply
// its keys.
func discover(ctx context.Context, client *http.Client, issuer string, insecure bool) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := get(ctx, client, u)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery %s: the document is for issuer %q, not %q", u, doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery %s: no jwks_uri", u)
	}
	if err := checkURL(doc.JWKSURI, insecure); err != nil {
		return "", fmt.Errorf("discovery %s: jwks_uri: %w", u, err)
	}
	return doc.JWKSURI, nil
}

// checkURL requires https, except for loopback hosts (local development and
// tests) or when insecure is set.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); insecure || h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q is plain http; keys fetched over it could be replaced in transit (use https, or set InsecureAllowHTTP on a trusted network)", raw)
	}
	return fmt.Errorf("%q: unsupported scheme %q", raw, u.Scheme)
}

// jwk is one member of a JWK Set (RFC 7517 §4, RFC 7518 §6): the members
// this verifier reads. Values are substrings of the set's text.
type jwk struct {
	Kty, Kid, Use, Alg, Crv, X, Y, N, E string
	// KeyOps is nil when "key_ops" is absent, and non-nil (maybe empty)
	// when present.
	KeyOps []string
}

// parseJWKS parses a JWK Set with the same strict JSON reader as tokens,
// not encoding/json: member names match exactly, and a set that repeats a
// member name anywhere, exactly or up to case ("kty" and "KTY", "x" and
// "X"), is refused as a whole, since decoders disagree on which of the two
// counts and these keys decide every verification. Keys this verifier
// cannot use (encryption keys, unsupported types or curves, short RSA
// moduli, keys without kid, members of the wrong type) are skipped and
// noted, as RFC 7517 §5 asks; a set that is not strict JSON is an error,
// so a broken response never replaces good keys.
func parseJWKS(body []byte) (*keySnapshot, error) {
	s := scanner{s: string(body)}
	snap := &keySnapshot{byKid: make(map[string][]*key)}
	found := false
	err := s.object(func(name string) error {
		if name != "keys" {
			return s.skip()
		}
		found = true
		if s.peek() != '[' {
			return s.errf(`"keys" is not an array`)
		}
		i := -1
		return s.array(func() error {
			i++
			if s.peek() != '{' {
				snap.skipped = append(snap.skipped, fmt.Sprintf("key %d: not a JSON object", i))
				return s.skip()
			}
			j, bad, err := readJWK(&s)
			if err != nil {
				return err
			}
			if bad != "" {
				snap.skipped = append(snap.skipped, fmt.Sprintf("key %d (kid %q): %s", i, j.Kid, bad))
				return nil
			}
			k, err := parseJWK(&j)
			if err != nil {
				snap.skipped = append(snap.skipped, fmt.Sprintf("key %d (kid %q): %v", i, j.Kid, err))
				return nil
			}
			snap.byKid[k.kid] = append(snap.byKid[k.kid], k)
			return nil
		})
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New(`no "keys" array`)
	}
	return snap, nil
}

// readJWK reads one JWK object. A syntax error (including a repeated
// name) is err and fails the whole set; a member of the wrong type only
// makes the key unusable, reported in bad.
func readJWK(s *scanner) (j jwk, bad string, err error) {
	err = s.object(func(name string) error {
		var dst *string
		switch name {
		case "kty":
			dst = &j.Kty
		case "kid":
			dst = &j.Kid
		case "use":
			dst = &j.Use
		case "alg":
			dst = &j.Alg
		case "crv":
			dst = &j.Crv
		case "x":
			dst = &j.X
		case "y":
			dst = &j.Y
		case "n":
			dst = &j.N
		case "e":
			dst = &j.E
		case "key_ops":
			if s.peek() != '[' {
				bad = "key_ops is not an array of strings"
				return s.skip()
			}
			j.KeyOps = []string{}
			return s.array(func() error {
				if !s.isString() {
					bad = "key_ops is not an array of strings"
					return s.skip()
				}
				op, err := s.str()
				j.KeyOps = append(j.KeyOps, op)
				return err
			})
		default:
			return s.skip()
		}
		if !s.isString() {
			bad = name + " is not a string"
			return s.skip()
		}
		v, err := s.str()
		*dst = v
		return err
	})
	return j, bad, err
}

func parseJWK(j *jwk) (*key, error) {
	if j.Kid == "" {
		return nil, errors.New("no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("use is %q, not sig", j.Use)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return nil, errors.New(`key_ops lacks "verify"`)
	}
	// The kid is a substring of the whole fetched set; a copy lets that be
	// collected.
	k := &key{kid: strings.Clone(j.Kid)}
	switch {
	case j.Kty == "EC" && j.Crv == "P-256":
		k.alg = "ES256"
		x, okx := decodeB64(nil, j.X)
		y, oky := decodeB64(nil, j.Y)
		if !okx || !oky || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("P-256 x and y must be 32 bytes of base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		k.pub = pub
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		k.alg = "EdDSA"
		x, ok := decodeB64(nil, j.X)
		if !ok || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 x must be 32 bytes of base64url")
		}
		k.pub = ed25519.PublicKey(x)
	case j.Kty == "RSA":
		k.alg = "RS256"
		n, okn := decodeB64(nil, j.N)
		e, oke := decodeB64(nil, j.E)
		if !okn || !oke || len(e) == 0 || len(e) > 4 || len(n) == 0 {
			return nil, errors.New("RSA n and e must be unpadded big-endian base64url")
		}
		var ev int
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		bits := new(big.Int).SetBytes(n).BitLen()
		if bits < 2048 || bits > 8192 {
			return nil, fmt.Errorf("RSA modulus of %d bits (2048 to 8192 accepted)", bits)
		}
		if ev < 3 || ev%2 == 0 {
			return nil, fmt.Errorf("RSA exponent %d is not odd and at least 3", ev)
		}
		k.pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}
	default:
		return nil, fmt.Errorf("unsupported key type %q/%q", j.Kty, j.Crv)
	}
	// A key that declares an alg is used only with it; a key without one is
	// used only with the one algorithm its type supports here, so an RSA key
	// can never verify an HMAC or another scheme.
	if j.Alg != "" && j.Alg != k.alg {
		return nil, fmt.Errorf("alg %q is not supported for a %s key", j.Alg, j.Kty)
	}
	return k, nil
}
