package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// steps maps each check to a one-word outcome: ok, FAIL or skip.
func steps(x *verify.Explanation) map[verify.Check]string {
	m := map[verify.Check]string{}
	for _, s := range x.Steps {
		switch {
		case s.OK:
			m[s.Check] = "ok"
		case s.Skipped != "":
			m[s.Check] = "skip"
		default:
			m[s.Check] = "FAIL"
			if s.Hint == "" {
				panic("failure without hint: " + string(s.Check))
			}
		}
	}
	return m
}

func TestExplain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.claims()

	t.Run("accepted", func(t *testing.T) {
		x := e.v.Explain(ctx, e.key.Sign(c), "orders:read")
		if !x.Accepted() || len(x.Steps) != len(verify.Checks()) {
			t.Fatalf("%+v", x)
		}
		for _, s := range x.Steps {
			if !s.OK {
				t.Errorf("%s not ok: %+v", s.Check, s)
			}
		}
		if !strings.Contains(string(x.Header), `"at+jwt"`) || !strings.Contains(string(x.Payload), api) {
			t.Errorf("header %s payload %s", x.Header, x.Payload)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		x := e.v.Explain(ctx, "refresh-token-like-garbage")
		got := steps(x)
		if got[verify.CheckSize] != "ok" || got[verify.CheckFormat] != "FAIL" || got[verify.CheckAudience] != "skip" || x.Claims != nil {
			t.Errorf("%v", got)
		}
	})
	t.Run("every claim problem at once", func(t *testing.T) {
		now := e.iss.Clock.Now()
		bad := c.With("aud", "hr-api").With("iss", "https://evil").With("exp", now.Unix()-3600)
		x := e.v.Explain(ctx, tamper(e.key.Sign(c), bad), "orders:write")
		got := steps(x)
		for _, ch := range []verify.Check{verify.CheckSignature, verify.CheckIssuer, verify.CheckAudience, verify.CheckExpiry, verify.CheckScope} {
			if got[ch] != "FAIL" {
				t.Errorf("%s: %s, want FAIL", ch, got[ch])
			}
		}
		// The verdict is Verify's: the first failure.
		wantCheck(t, x.Err, verify.CheckSignature)
		if x.Claims == nil || x.Claims.Issuer != "https://evil" {
			t.Errorf("unverified claims not shown: %+v", x.Claims)
		}
	})
	t.Run("alg refused", func(t *testing.T) {
		x := e.v.Explain(ctx, testkit.HS256(e.key.PublicPEM(), e.header(), c))
		got := steps(x)
		if got[verify.CheckAlgorithm] != "FAIL" || got[verify.CheckKey] != "skip" || got[verify.CheckSignature] != "skip" || got[verify.CheckAudience] != "ok" {
			t.Errorf("%v", got)
		}
	})
	t.Run("alg differs from key", func(t *testing.T) {
		x := e.v.Explain(ctx, testkit.RS256Key("k1", 0).Sign(c))
		got := steps(x)
		if got[verify.CheckAlgorithm] != "FAIL" || got[verify.CheckKey] != "skip" {
			t.Errorf("%v", got)
		}
		wantCheck(t, x.Err, verify.CheckAlgorithm)
	})
	t.Run("audience hint", func(t *testing.T) {
		hr := newEnv(t, func(c *verify.Config) { c.Audience = "hr-api" })
		x := hr.v.Explain(ctx, hr.key.Sign(hr.claims()))
		for _, s := range x.Steps {
			if s.Check == verify.CheckAudience {
				const want = "this token was issued to customer-portal, whose audience does not include hr-api; add hr-api to its audience in the identity provider or request it with resource=hr-api"
				if s.Hint != want {
					t.Errorf("hint %q", s.Hint)
				}
			}
		}
	})
}

// TestHintByCode: Explain picks a hint by the error's Check and Code, so
// rewording a Reason cannot change it. Each Reason here is deliberately
// misleading wording.
func TestHintByCode(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		check  verify.Check
		code   verify.Code
		reason string
		want   string // a fragment of the hint
	}{
		{verify.CheckAlgorithm, verify.CodeKeyMismatch, "alg differs", "does not match its key's"},
		{verify.CheckAlgorithm, verify.CodeNotAccepted, "the token says alg ES384", "add its algorithm to Config.Algorithms"},
		{verify.CheckAlgorithm, verify.CodeForbiddenAlg, "the token says alg none", "can never be enabled"},
		{verify.CheckExpiry, verify.CodeMissing, "exp absent", "set exp on access tokens"},
		{verify.CheckExpiry, verify.CodeExpired, "no exp leeway left", "get a new token"},
		{verify.CheckExpiry, verify.CodeWrongType, "no exp", "wrong JSON type"},
		{verify.CheckIssuer, verify.CodeWrongType, "iss", "puts iss in its tokens with the wrong JSON type"},
		{verify.CheckKey, verify.CodeKeyRefreshFailed, "no key", "could not be fetched"},
		{verify.CheckKey, verify.CodeUnknownKey, "could not be fetched", "does not publish"},
		{verify.CheckKey, verify.CodeMissing, "no key with kid", "kid in every token header"},
		{verify.CheckFormat, verify.CodeDuplicateMember, "malformed", "differing only in case"},
		{verify.CheckFormat, verify.CodeMalformed, "duplicate member", "three base64url parts"},
	}
	for _, tt := range tests {
		t.Run(string(tt.check)+"/"+string(tt.code), func(t *testing.T) {
			got := verify.Hint(e.v, &verify.Error{Check: tt.check, Code: tt.code, Reason: tt.reason})
			if !strings.Contains(got, tt.want) {
				t.Errorf("hint %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
