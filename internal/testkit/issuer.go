package testkit

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Epoch is the fake clock's default start: a fixed instant so that tokens
// and expected errors are the same in every run.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock safe for concurrent use. Pass its Now method
// wherever code takes a clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t (Epoch when zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = Epoch
	}
	return &Clock{t: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (which may be negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Issuer is an httptest OpenID provider for resource-server tests: it serves
// /.well-known/openid-configuration and /jwks, counts the requests, and can
// rotate and retire keys or go down. Its issuer identifier is URL.
type Issuer struct {
	URL   string
	Clock *Clock

	srv    *httptest.Server
	mu     sync.Mutex
	keys   []*Key // published in the JWKS
	active *Key   // signs Token
	down   bool
	delay  time.Duration

	jwksHits, discoveryHits atomic.Int64
}

// NewIssuer starts an issuer publishing keys, the first of which signs;
// the server stops when the test ends.
func NewIssuer(t testing.TB, keys ...*Key) *Issuer {
	t.Helper()
	iss := &Issuer{Clock: NewClock(time.Time{}), keys: keys}
	if len(keys) > 0 {
		iss.active = keys[0]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss.discoveryHits.Add(1)
		if iss.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(mustJSON(map[string]any{
			"issuer":                                iss.URL,
			"jwks_uri":                              iss.URL + "/jwks",
			"token_endpoint":                        iss.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"ES256", "EdDSA", "RS256"},
		}))
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.jwksHits.Add(1)
		iss.mu.Lock()
		delay := iss.delay
		iss.mu.Unlock()
		time.Sleep(delay)
		if iss.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		iss.mu.Lock()
		body := JWKS(iss.keys...)
		iss.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	})
	iss.srv = httptest.NewServer(mux)
	iss.URL = iss.srv.URL
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *Issuer) isDown() bool {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.down
}

// SetDown makes both endpoints answer 503 (true) or work again (false).
func (iss *Issuer) SetDown(down bool) {
	iss.mu.Lock()
	iss.down = down
	iss.mu.Unlock()
}

// SetJWKSDelay makes /jwks answer after d, so concurrent fetches overlap.
func (iss *Issuer) SetJWKSDelay(d time.Duration) {
	iss.mu.Lock()
	iss.delay = d
	iss.mu.Unlock()
}

// Rotate publishes next next to the current keys and makes it the signing
// key, as Gatehouse's key ring does; the previous key stays published.
func (iss *Issuer) Rotate(next *Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if !slices.Contains(iss.keys, next) {
		iss.keys = append(iss.keys, next)
	}
	iss.active = next
}

// Retire stops publishing k.
func (iss *Issuer) Retire(k *Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = slices.DeleteFunc(iss.keys, func(x *Key) bool { return x == k })
}

// Publish replaces the published keys (the signing key is unchanged).
func (iss *Issuer) Publish(keys ...*Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = slices.Clone(keys)
}

// Active returns the signing key.
func (iss *Issuer) Active() *Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.active
}

// Claims returns access-token claims from this issuer at its clock's time.
func (iss *Issuer) Claims(client, scope string, aud ...string) Claims {
	return AccessClaims(iss.URL, client, iss.Clock.Now(), scope, aud...)
}

// Token returns an access token signed by the active key.
func (iss *Issuer) Token(client, scope string, aud ...string) string {
	return iss.Active().Sign(iss.Claims(client, scope, aud...))
}

// JWKSFetches is how many times /jwks was requested.
func (iss *Issuer) JWKSFetches() int64 { return iss.jwksHits.Load() }

// DiscoveryFetches is how many times the discovery document was requested.
func (iss *Issuer) DiscoveryFetches() int64 { return iss.discoveryHits.Load() }

// Trap is an httptest server that counts every request to it. Attack tests
// put its URL where a naive verifier would fetch from (jku, x5u) and assert
// Hits stays zero. It answers with body, so a verifier that did fetch would
// get a plausible JWK Set.
type Trap struct {
	URL  string
	hits atomic.Int64
}

// NewTrap starts a trap answering every request with body; it stops when the
// test ends.
func NewTrap(t testing.TB, body []byte) *Trap {
	t.Helper()
	tr := &Trap{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	tr.URL = srv.URL
	t.Cleanup(srv.Close)
	return tr
}

// Hits is how many requests the trap received.
func (tr *Trap) Hits() int64 { return tr.hits.Load() }
