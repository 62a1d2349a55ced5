package testkit

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestKeysAreReproducible(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		a, b := NewKey(alg, "kid-1"), NewKey(alg, "kid-1")
		pa, pb := a.Public().(interface{ Equal(crypto.PublicKey) bool }), b.Public()
		if !pa.Equal(pb) {
			t.Errorf("%s: same kid, different keys", alg)
		}
		if a.Alg != alg || a.KID != "kid-1" {
			t.Errorf("%s: %+v", alg, a)
		}
	}
	if ES256Key("a").Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(ES256Key("b").Public()) {
		t.Error("different kids, same ES256 key")
	}
	if RS256Key("x", 0).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(RS256Key("x", 1).Public()) {
		t.Error("RS256Key(0) and (1) are the same key")
	}
}

func TestTokenShapes(t *testing.T) {
	k := ES256Key("k")
	c := AccessClaims("https://id", "portal", Epoch, "a b", "portal", "api")
	parts := strings.Split(k.Sign(c, map[string]any{"typ": nil, "x": 1}), ".")
	if len(parts) != 3 {
		t.Fatal(parts)
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hm map[string]any
	json.Unmarshal(h, &hm)
	if hm["alg"] != "ES256" || hm["kid"] != "k" || hm["x"] != 1.0 || hm["typ"] != nil {
		t.Errorf("header %s", h)
	}
	if s, _ := base64.RawURLEncoding.DecodeString(parts[2]); len(s) != 64 {
		t.Errorf("ES256 signature of %d bytes", len(s))
	}
	if c["azp"] != "portal" || c.Without("azp")["azp"] != nil || c["azp"] == nil {
		t.Error("With/Without changed the original")
	}
	if !strings.HasSuffix(Unsigned(nil, c), ".") {
		t.Error("unsigned token has a signature")
	}
}

func TestIssuer(t *testing.T) {
	k1, k2 := ES256Key("k1"), EdDSAKey("k2")
	iss := NewIssuer(t, k1)
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(iss.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if _, d := get("/.well-known/openid-configuration"); d["issuer"] != iss.URL || d["jwks_uri"] != iss.URL+"/jwks" {
		t.Errorf("discovery %v", d)
	}
	iss.Rotate(k2)
	if _, j := get("/jwks"); len(j["keys"].([]any)) != 2 || iss.Active() != k2 {
		t.Errorf("after rotate: %v", j)
	}
	iss.Retire(k1)
	if _, j := get("/jwks"); len(j["keys"].([]any)) != 1 {
		t.Errorf("after retire: %v", j)
	}
	iss.SetDown(true)
	if code, _ := get("/jwks"); code != http.StatusServiceUnavailable {
		t.Errorf("down: %d", code)
	}
	if iss.JWKSFetches() != 3 || iss.DiscoveryFetches() != 1 {
		t.Errorf("counts %d %d", iss.JWKSFetches(), iss.DiscoveryFetches())
	}
	iss.Clock.Advance(time.Hour)
	if !iss.Clock.Now().Equal(Epoch.Add(time.Hour)) {
		t.Error("clock")
	}
	tr := NewTrap(t, nil)
	http.Get(tr.URL + "/x")
	if tr.Hits() != 1 {
		t.Error("trap")
	}
}
