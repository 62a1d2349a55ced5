package verify_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// TestAttackBattery throws the known JWT attacks at a verifier (with and
// without the token cache) and then checks a valid token is still accepted,
// no key was fetched from a URL the token named, and the issuer's JWKS was
// fetched at most once for all the unknown kids.
func TestAttackBattery(t *testing.T) {
	for _, cacheSize := range []int{0, 64} {
		t.Run("cache="+strconv.Itoa(cacheSize), func(t *testing.T) {
			attackBattery(t, cacheSize)
		})
	}
}

func attackBattery(t *testing.T, cacheSize int) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = cacheSize })
	ctx := context.Background()
	c := e.claims()
	now := e.iss.Clock.Now()
	attacker := testkit.ES256Key("attacker")
	trap := testkit.NewTrap(t, testkit.JWKS(attacker))
	// A second Gatehouse instance with its own key under the same kid.
	otherIssuer := testkit.NewIssuer(t, testkit.ES256Key("other-instance"))
	otherKey := testkit.ES256Key("other-instance")
	otherKey.KID = "k1"

	selfSigned := func() string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: e.iss.URL}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attacker.Public(), attacker.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}()
	random := make([]byte, 600)
	rand.Read(random)

	attacks := []struct {
		name  string
		token string
		want  verify.Check // "" accepts any refusal
	}{
		{"alg none", testkit.Unsigned(e.header(), c), verify.CheckAlgorithm},
		{"alg none with signature", testkit.Unsigned(e.header(), c) + strings.Repeat("A", 86), verify.CheckAlgorithm},
		{"alg NONE", unsignedAlg("NONE", c, t), verify.CheckAlgorithm},
		{"HS256 keyed with the public key PEM", testkit.HS256(e.key.PublicPEM(), e.header(), c), verify.CheckAlgorithm},
		{"HS256 keyed with the raw public key", testkit.HS256(e.key.PublicRaw(), e.header(), c), verify.CheckAlgorithm},
		{"HS256 keyed with the JWK", testkit.HS256(testkit.JSON(e.key.JWK()), e.header(), c), verify.CheckAlgorithm},
		{"HS512 keyed with the public key", hsAlg("HS512", e, c), verify.CheckAlgorithm},
		{"embedded jwk, attacker kid", attacker.Sign(c, map[string]any{"jwk": attacker.JWK()}), verify.CheckKey},
		{"embedded jwk, issuer kid", attacker.Sign(c, map[string]any{"jwk": attacker.JWK(), "kid": "k1"}), verify.CheckSignature},
		{"jku, attacker kid", attacker.Sign(c, map[string]any{"jku": trap.URL + "/jwks"}), verify.CheckKey},
		{"jku, issuer kid", attacker.Sign(c, map[string]any{"jku": trap.URL + "/jwks", "kid": "k1"}), verify.CheckSignature},
		{"x5u", attacker.Sign(c, map[string]any{"x5u": trap.URL + "/cert.pem"}), verify.CheckKey},
		{"x5c self-signed", attacker.Sign(c, map[string]any{"x5c": []string{selfSigned}}), verify.CheckKey},
		{"x5c self-signed, issuer kid", attacker.Sign(c, map[string]any{"x5c": []string{selfSigned}, "kid": "k1"}), verify.CheckSignature},
		{"unknown kid", testkit.ES256Key("nope").Sign(c), verify.CheckKey},
		{"kid path traversal", attacker.Sign(c, map[string]any{"kid": "../../dev/null"}), verify.CheckKey},
		{"tampered payload", tamper(e.key.Sign(c), c.With("scope", "openid orders:read orders:admin")), verify.CheckSignature},
		{"tampered header", tamperHeader(e.key.Sign(c), `{"alg":"ES256","kid":"k1","typ":"at+jwt","x":1}`), verify.CheckSignature},
		{"expired", e.key.Sign(c.With("exp", now.Add(-time.Hour).Unix())), verify.CheckExpiry},
		{"not yet valid", e.key.Sign(c.With("nbf", now.Add(time.Hour).Unix())), verify.CheckNotBefore},
		{"wrong issuer", e.key.Sign(c.With("iss", "https://evil.example.com")), verify.CheckIssuer},
		{"another API's audience", e.key.Sign(c.With("aud", []string{client, "hr-api"})), verify.CheckAudience},
		{"audience differing in case", e.key.Sign(c.With("aud", strings.ToUpper(api))), verify.CheckAudience},
		{"missing aud", e.key.Sign(c.Without("aud")), verify.CheckAudience},
		{"aud number", e.key.Sign(c.With("aud", 1)), verify.CheckAudience},
		{"aud object", e.key.Sign(c.With("aud", map[string]string{"id": api})), verify.CheckAudience},
		{"ID token", e.key.Sign(c.With("aud", client).With("nonce", "n").Without("scope"), map[string]any{"typ": "JWT"}), verify.CheckType},
		{"ID token without typ", e.key.Sign(c.With("nonce", "n"), map[string]any{"typ": nil}), verify.CheckType},
		{"refresh-token-shaped garbage", base64.RawURLEncoding.EncodeToString(random[:32]), verify.CheckFormat},
		{"token from another instance (same kid)", otherKey.Sign(otherIssuer.Claims(client, "orders:read", api)), verify.CheckSignature},
		// Its kid is unknown here, but its iss already rules it out, so
		// that is the verdict and no JWKS refetch is spent on it.
		{"token from another instance (own kid)", otherIssuer.Token(client, "orders:read", api), verify.CheckIssuer},
		{"duplicated aud", e.raw(e.hdr(), strings.TrimSuffix(e.payload("aud", `"hr-api"`), "}")+`,"aud":"`+api+`"}`), verify.CheckFormat},
		{"duplicated alg", e.raw(`{"alg":"ES256","kid":"k1","typ":"at+jwt","alg":"none"}`, e.payload("", "")), verify.CheckFormat},
		{"unknown crit", e.key.Sign(c, map[string]any{"crit": []string{"urn:x:critical"}, "urn:x:critical": true}), verify.CheckCrit},
		{"b64 false crit", e.key.Sign(c, map[string]any{"crit": []string{"b64"}, "b64": false}), verify.CheckCrit},
		{"1 MiB token", e.key.Sign(c.With("pad", strings.Repeat("A", 1<<20))), verify.CheckSize},
		{"random bytes", string(random), verify.CheckFormat},
		{"random bytes with dots", string(random[:100]) + "." + string(random[100:300]) + "." + string(random[300:]), verify.CheckFormat},
		{"Bearer prefix", "Bearer " + e.key.Sign(c), verify.CheckFormat},
		{"JWE-shaped", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", verify.CheckFormat},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			claims, err := e.v.Verify(ctx, a.token, "orders:read")
			if err == nil || claims != nil {
				t.Fatalf("attack accepted")
			}
			var ve *verify.Error
			if !errors.As(err, &ve) {
				t.Fatalf("not a *verify.Error: %v", err)
			}
			if a.want != "" && ve.Check != a.want {
				t.Errorf("refused by %s (%v), want %s", string(ve.Check), err, string(a.want))
			}
		})
	}
	if _, err := e.v.Verify(ctx, e.key.Sign(c), "orders:read"); err != nil {
		t.Fatalf("valid token refused after the battery: %v", err)
	}
	if n := trap.Hits(); n != 0 {
		t.Errorf("a URL from a token header was fetched %d times", n)
	}
	if n := e.iss.JWKSFetches(); n > 2 {
		t.Errorf("JWKS fetched %d times (1 at start, at most 1 refresh)", n)
	}
}

func hsAlg(alg string, e *env, c testkit.Claims) string {
	h := e.header()
	tok := testkit.HS256(e.key.PublicPEM(), h, c)
	// Rewrite the alg: the verifier refuses by name before any MAC check.
	_, rest, _ := strings.Cut(tok, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+alg+`","kid":"k1","typ":"at+jwt"}`)) + "." + rest
}

func tamperHeader(token, header string) string {
	_, rest, _ := strings.Cut(token, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + rest
}

// TestUnknownKidFlood sends many tokens with made-up kids at once: the
// issuer sees at most one JWKS request per MinRefreshInterval.
func TestUnknownKidFlood(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	start := e.iss.JWKSFetches()
	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				k := testkit.ES256Key("bogus-" + strconv.Itoa(i))
				_, err := e.v.Verify(ctx, k.Sign(e.claims()))
				wantCheck(t, err, verify.CheckKey)
			})
		}
		wg.Wait()
	}
	flood() // right after New: the initial fetch counts, so no refresh yet
	if got := e.iss.JWKSFetches() - start; got != 0 {
		t.Errorf("flood right after start: %d fetches, want 0", got)
	}
	e.iss.Clock.Advance(verify.DefaultMinRefreshInterval)
	flood()
	if got := e.iss.JWKSFetches() - start; got != 1 {
		t.Errorf("flood after the interval: %d fetches, want 1", got)
	}
	e.iss.Clock.Advance(verify.DefaultMinRefreshInterval / 2)
	flood()
	if got := e.iss.JWKSFetches() - start; got != 1 {
		t.Errorf("flood within the interval: %d fetches, want 1", got)
	}
	if _, err := e.v.Verify(ctx, e.key.Sign(e.claims())); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentRefreshCollapsed: callers that arrive while a refresh runs
// wait for it and share its result instead of being rate-limited or
// starting fetches of their own.
func TestConcurrentRefreshCollapsed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k2 := testkit.ES256Key("k2")
	e.iss.Rotate(k2)
	e.iss.SetJWKSDelay(100 * time.Millisecond)
	e.iss.Clock.Advance(time.Minute)
	start := e.iss.JWKSFetches()
	tok := e.iss.Token(client, "", api)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := e.v.Verify(ctx, tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := e.iss.JWKSFetches() - start; got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

// TestRotation: the issuer rotates keys; tokens of the old and the new key
// both verify without a new Verifier, and once the old key is no longer
// published its tokens are refused (also from the cache).
func TestRotation(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.CacheSize = 100 })
	ctx := context.Background()
	k1 := e.key
	old := e.iss.Token(client, "", api)
	if _, err := e.v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}

	e.iss.Clock.Advance(time.Minute)
	e.iss.Rotate(testkit.EdDSAKey("k2")) // a new key, even of another algorithm
	fresh := e.iss.Token(client, "", api)
	if _, err := e.v.Verify(ctx, fresh); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if _, err := e.v.Verify(ctx, old); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}

	// The issuer stops publishing k1; the verifier learns it on its next
	// refresh (here forced; TestBackgroundRefresh covers the timed one).
	e.iss.Retire(k1)
	if err := e.v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.v.Verify(ctx, old)
	wantCheck(t, err, verify.CheckKey)
	if _, err := e.v.Verify(ctx, fresh); err != nil {
		t.Fatalf("new key after retiring the old: %v", err)
	}
	// A token signed by the retired key after the fact is refused too.
	_, err = e.v.Verify(ctx, k1.Sign(e.iss.Claims(client, "", api)))
	wantCheck(t, err, verify.CheckKey)
}

func TestBackgroundRefresh(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.RefreshInterval = 5 * time.Minute })
	ctx := context.Background()
	old := e.iss.Token(client, "", api)
	e.iss.Rotate(testkit.ES256Key("k2"))
	e.iss.Retire(e.key)
	// Within the interval the held keys are used as they are.
	if _, err := e.v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	e.iss.Clock.Advance(6 * time.Minute)
	// This call notices the stale key set, starts a refresh in the
	// background and is answered with the keys held meanwhile.
	before := e.iss.JWKSFetches()
	e.v.Verify(ctx, old)
	// That refresh is the verifier's own goroutine fetching over a real
	// socket (the issuer is an httptest server), which a synctest bubble
	// cannot hold and which signals nothing when done: poll its effect,
	// the retired key being refused, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.v.Verify(ctx, old)
		if err != nil {
			wantCheck(t, err, verify.CheckKey)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retired key still accepted after the refresh interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.iss.JWKSFetches() - before; got != 1 {
		t.Errorf("%d background fetches, want 1", got)
	}
}

// TestIssuerDown: with the issuer unreachable, tokens of cached keys still
// verify and an unknown kid fails with the fetch error; when the issuer is
// back, rotation is followed again.
func TestIssuerDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.iss.SetDown(true)
	e.iss.Clock.Advance(time.Minute)
	if _, err := e.v.Verify(ctx, e.iss.Token(client, "", api)); err != nil {
		t.Fatalf("cached key refused while the issuer is down: %v", err)
	}
	k2 := testkit.ES256Key("k2")
	e.iss.Rotate(k2)
	_, err := e.v.Verify(ctx, e.iss.Token(client, "", api))
	ve := wantCheck(t, err, verify.CheckKey)
	if ve.Err == nil || !strings.Contains(ve.Reason, "could not be refreshed") {
		t.Errorf("want the fetch failure in the error, got %v", err)
	}
	if _, err := e.v.Verify(ctx, e.key.Sign(e.claims())); err != nil {
		t.Fatalf("cached key refused after a failed refresh: %v", err)
	}
	e.iss.SetDown(false)
	e.iss.Clock.Advance(time.Minute)
	if _, err := e.v.Verify(ctx, e.iss.Token(client, "", api)); err != nil {
		t.Fatalf("new key once the issuer is back: %v", err)
	}
}

func TestCancelledWaitDoesNotFailOthers(t *testing.T) {
	e := newEnv(t)
	e.iss.Rotate(testkit.ES256Key("k2"))
	e.iss.SetJWKSDelay(100 * time.Millisecond)
	e.iss.Clock.Advance(time.Minute)
	tok := e.iss.Token(client, "", api)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.v.Verify(ctx, tok)
	ve := wantCheck(t, err, verify.CheckKey)
	if !errors.Is(ve, context.Canceled) {
		t.Errorf("want context.Canceled inside, got %v", err)
	}
	// The fetch the cancelled caller started still completes for others.
	if _, err := e.v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}
