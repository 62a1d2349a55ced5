package verify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// TestClaimsUnmarshalExactNames: Claims.Unmarshal matches member names
// exactly and refuses payloads with names that differ only in case, where
// encoding/json would fill a field tagged "role" from "ROLE".
func TestClaimsUnmarshalExactNames(t *testing.T) {
	type target struct {
		Role string `json:"role"`
		Kind string `json:"kind"`
		Plan string // untagged: only the member "Plan" fills it
	}
	tests := []struct {
		name    string
		raw     string
		want    target
		wantErr string
	}{
		{name: "exact names", raw: `{"role":"user","kind":"k","Plan":"p"}`, want: target{Role: "user", Kind: "k", Plan: "p"}},
		{name: "upper-case name alone is another claim", raw: `{"ROLE":"admin"}`},
		{name: "title-case name alone is another claim", raw: `{"Role":"admin"}`},
		{name: "untagged field by its lower-case name", raw: `{"plan":"gold"}`},
		{name: "Kelvin sign alone is another claim", raw: `{"\u212Aind":"x"}`},
		{name: "case twins", raw: `{"role":"user","ROLE":"admin"}`, wantErr: "differ only in case"},
		{name: "case twins, upper first", raw: `{"ROLE":"admin","role":"user"}`, wantErr: "differ only in case"},
		{name: "case twins via Kelvin sign", raw: `{"kind":"a","\u212Aind":"b"}`, wantErr: "differ only in case"},
		{name: "nested case twins", raw: `{"role":"user","x":[{"a":1,"A":2}]}`, wantErr: "differ only in case"},
		{name: "exact duplicate", raw: `{"role":"user","role":"admin"}`, wantErr: "duplicate member"},
		{name: "trailing data", raw: `{"role":"user"} {}`, wantErr: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got target
			err := (&verify.Claims{Raw: []byte(tt.raw)}).Unmarshal(&got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q (decoded %+v)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestVerifiedClaimsUnmarshalExactNames goes through Verify: a token whose
// only role member is "ROLE" is valid (claim names are case-sensitive),
// and a field tagged "role" stays empty.
func TestVerifiedClaimsUnmarshalExactNames(t *testing.T) {
	e := newEnv(t)
	claims, err := e.v.Verify(context.Background(), e.raw(e.hdr(), e.payload("ROLE", `"admin"`)))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Role string `json:"role"`
	}
	if err := claims.Unmarshal(&got); err != nil || got.Role != "" {
		t.Errorf("Unmarshal: %v, role %q", err, got.Role)
	}
}

// TestJWKSNames: the JWK Set is read with exact names, and a set with a
// repeated name, exactly or up to case, is refused as a whole.
func TestJWKSNames(t *testing.T) {
	k := testkit.ES256Key("k1")
	x, y := k.JWK()["x"].(string), k.JWK()["y"].(string)
	ox := testkit.ES256Key("k1-other").JWK()["x"].(string)
	jwk := func(extra string) string {
		return `{"kty":"EC","crv":"P-256","kid":"k1","x":"` + x + `","y":"` + y + `"` + extra + `}`
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	tests := []struct {
		name    string
		set     string
		wantErr string // New fails mentioning it
		usable  bool   // otherwise the k1 key must not be usable
	}{
		{name: "plain", set: set(jwk("")), usable: true},
		{name: "unknown members of any type", set: `{"x-meta":{"a":[1,null]},"keys":[` + jwk(`,"x5c":["AAAA"],"key_ops":["verify"],"ext":true`) + `]}`, usable: true},
		{name: "kty and KTY", set: set(jwk(`,"KTY":"oct"`)), wantErr: `"kty" and "KTY" differ only in case`},
		{name: "x and X", set: set(jwk(`,"X":"` + ox + `"`)), wantErr: `"x" and "X" differ only in case`},
		{name: "X before x", set: set(`{"X":"` + ox + `",` + jwk("")[1:]), wantErr: "differ only in case"},
		{name: "kid and Kid", set: set(jwk(`,"Kid":"k2"`)), wantErr: "differ only in case"},
		{name: "keys and KEYS", set: `{"keys":[` + jwk("") + `],"KEYS":[]}`, wantErr: "differ only in case"},
		{name: "exact duplicate x", set: set(jwk(`,"x":"` + ox + `"`)), wantErr: `duplicate member "x"`},
		{name: "twins in an ignored member", set: set(jwk(`,"ext":{"a":1,"A":2}`)), wantErr: "differ only in case"},
		// encoding/json v1 would read these into kty, crv, kid, x and y.
		{name: "upper-case names only", set: set(`{"KTY":"EC","CRV":"P-256","KID":"k1","X":"` + x + `","Y":"` + y + `"}`)},
		{name: "kid of the wrong type", set: set(`{"kty":"EC","crv":"P-256","kid":1,"x":"` + x + `","y":"` + y + `"}`)},
		{name: "key_ops without verify", set: set(jwk(`,"key_ops":[]`))},
		{name: "key_ops not an array", set: set(jwk(`,"key_ops":"verify"`))},
		{name: "a key that is not an object", set: set(`null`, `"k1"`, jwk("")), usable: true},
		{name: "keys not an array", set: `{"keys":{}}`, wantErr: `"keys" is not an array`},
		{name: "no keys", set: `{"Keys":[]}`, wantErr: `no "keys" array`},
		{name: "trailing data", set: set(jwk("")) + "x", wantErr: "trailing data"},
	}
	c := testkit.AccessClaims("https://id", client, testkit.Epoch, "", api)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: []byte(tt.set), Clock: testkit.NewClock(time.Time{}).Now})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), k.Sign(c))
			if tt.usable {
				wantCheck(t, err, "")
			} else {
				wantCheck(t, err, verify.CheckKey)
			}
		})
	}
}

// TestJWKSWithCaseTwinsKeepsKeys: a refresh that returns a set with case
// twins fails and leaves the keys held in place.
func TestJWKSWithCaseTwinsKeepsKeys(t *testing.T) {
	k := testkit.ES256Key("k1")
	var body atomic.Value
	body.Store(testkit.JWKS(k))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body.Load().([]byte))
	}))
	t.Cleanup(srv.Close)
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id", Audience: api, JWKSURL: srv.URL, Clock: testkit.NewClock(time.Time{}).Now})
	if err != nil {
		t.Fatal(err)
	}
	twins := k.JWK()
	twins["X"] = testkit.ES256Key("attacker").JWK()["x"]
	body.Store(testkit.JSON(map[string]any{"keys": []any{twins}}))
	if err := v.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := v.Verify(context.Background(), k.Sign(testkit.AccessClaims("https://id", client, testkit.Epoch, "", api))); err != nil {
		t.Fatalf("held key lost: %v", err)
	}
}
