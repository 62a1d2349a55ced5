package verify_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// TestUnknownKidRefetchOnlyWhenWorthIt: a token with an unknown kid makes
// the verifier refetch the issuer's JWK Set only if nothing else already
// refuses it. A token from another issuer, for another API or outside its
// validity period is refused by that check, with that check's error and
// without a fetch; a token that passes them still gets its one refresh.
func TestUnknownKidRefetchOnlyWhenWorthIt(t *testing.T) {
	tests := []struct {
		name    string
		claims  func(e *env, now time.Time) testkit.Claims
		want    verify.Check
		fetches int64
	}{
		{"foreign issuer", func(e *env, _ time.Time) testkit.Claims { return e.claims().With("iss", "https://other.example.com") }, verify.CheckIssuer, 0},
		{"no issuer", func(e *env, _ time.Time) testkit.Claims { return e.claims().Without("iss") }, verify.CheckIssuer, 0},
		{"another API", func(e *env, _ time.Time) testkit.Claims { return e.claims().With("aud", "hr-api") }, verify.CheckAudience, 0},
		{"expired", func(e *env, now time.Time) testkit.Claims { return e.claims().With("exp", now.Add(-time.Hour).Unix()) }, verify.CheckExpiry, 0},
		{"no exp", func(e *env, _ time.Time) testkit.Claims { return e.claims().Without("exp") }, verify.CheckExpiry, 0},
		{"not yet valid", func(e *env, now time.Time) testkit.Claims { return e.claims().With("nbf", now.Add(time.Hour).Unix()) }, verify.CheckNotBefore, 0},
		{"issued in the future", func(e *env, now time.Time) testkit.Claims { return e.claims().With("iat", now.Add(time.Hour).Unix()) }, verify.CheckIssuedAt, 0},
		// A missing scope is not reason enough: it would be answered as
		// insufficient_scope, as if the token were otherwise good.
		{"lacks the scope", func(e *env, _ time.Time) testkit.Claims { return e.claims().With("scope", "openid") }, verify.CheckKey, 1},
		{"good claims", func(e *env, _ time.Time) testkit.Claims { return e.claims() }, verify.CheckKey, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			// Past the minimum interval, so that a refresh would be allowed:
			// a missing fetch is then the verifier's decision.
			e.iss.Clock.Advance(verify.DefaultMinRefreshInterval)
			tok := testkit.ES256Key("unknown").Sign(tt.claims(e, e.iss.Clock.Now()))
			start := e.iss.JWKSFetches()
			_, err := e.v.Verify(context.Background(), tok, "orders:read")
			ve := wantCheck(t, err, tt.want)
			if got := e.iss.JWKSFetches() - start; got != tt.fetches {
				t.Errorf("Verify: %d JWKS fetches, want %d", got, tt.fetches)
			}
			if tt.name == "foreign issuer" && ve.Value != "https://other.example.com" {
				t.Errorf("Value = %q", ve.Value)
			}

			// Explain reaches the same verdict, says why the key was not
			// looked up, and fetches nothing more (a refresh, if any, has
			// just happened and is rate-limited).
			x := e.v.Explain(context.Background(), tok, "orders:read")
			wantCheck(t, x.Err, tt.want)
			got := steps(x)
			if tt.fetches == 0 && (got[verify.CheckKey] != "skip" || got[verify.CheckSignature] != "skip" || got[tt.want] != "FAIL") {
				t.Errorf("Explain steps %v", got)
			}
			if got := e.iss.JWKSFetches() - start; got != tt.fetches {
				t.Errorf("after Explain: %d JWKS fetches, want %d", got, tt.fetches)
			}
		})
	}
}

// TestUnknownKidFromAnotherIssuerFlood: a stream of tokens from another
// issuer, each with a kid of its own, costs the real issuer no fetch, so
// the refresh budget stays available for a real rotation.
func TestUnknownKidFromAnotherIssuerFlood(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.iss.Clock.Advance(verify.DefaultMinRefreshInterval)
	start := e.iss.JWKSFetches()
	foreign := e.claims().With("iss", "https://other.example.com")
	for i := range 20 {
		_, err := e.v.Verify(ctx, testkit.ES256Key("foreign-"+strconv.Itoa(i)).Sign(foreign))
		wantCheck(t, err, verify.CheckIssuer)
	}
	if got := e.iss.JWKSFetches() - start; got != 0 {
		t.Errorf("%d JWKS fetches for foreign tokens, want 0", got)
	}
	// The issuer rotates: its first token with the new kid is verified
	// after the one refresh that is still allowed.
	e.iss.Rotate(testkit.ES256Key("k2"))
	if _, err := e.v.Verify(ctx, e.iss.Token(client, "", api)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got := e.iss.JWKSFetches() - start; got != 1 {
		t.Errorf("%d JWKS fetches, want 1", got)
	}
}

// TestUnknownKidStaticKeys: with a static key set, which is never
// refetched, the claim check still names the real problem.
func TestUnknownKidStaticKeys(t *testing.T) {
	k := testkit.ES256Key("k1")
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: testkit.JWKS(k), Clock: testkit.NewClock(time.Time{}).Now})
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.AccessClaims("https://id", client, testkit.Epoch, "", api)
	_, err = v.Verify(context.Background(), testkit.ES256Key("k9").Sign(c.With("iss", "https://other")))
	wantCheck(t, err, verify.CheckIssuer)
	_, err = v.Verify(context.Background(), testkit.ES256Key("k9").Sign(c))
	wantCheck(t, err, verify.CheckKey)
}
