package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// FuzzParse feeds arbitrary strings to the format check (compact-JWS
// splitter, strict base64url, strict JSON header and claims parser) and,
// for whatever it accepts, cross-checks the result against the standard
// library: the parts decode the same with encoding/base64, the JSON is
// valid for encoding/json, and every claim and header value it extracted
// is the one encoding/json sees. It then runs the whole Verify, which must
// not panic either.
//
//	go test ./verify -run '^$' -fuzz FuzzParse -fuzztime 20s
func FuzzParse(f *testing.F) {
	k := testkit.ES256Key("k1")
	now := testkit.Epoch
	c := testkit.AccessClaims("https://id.example.com", "customer-portal", now, "openid orders:read", "customer-portal", "order-status-api")
	for _, tok := range []string{
		k.Sign(c),
		k.Sign(c.With("aud", "order-status-api")),
		k.Sign(c.With("aud", 1)),
		k.Sign(c.With("exp", 1.5)),
		k.Sign(c, map[string]any{"crit": []string{"x"}, "jwk": k.JWK()}),
		k.SignRaw([]byte(`{"alg":"ES256","alg":"none"}`), []byte(`{}`)),
		k.SignRaw([]byte(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`), []byte(`{"sub":"\u00e9\ud83d\ude00\n","x":[{"a":{}},-0.0e+1,true,null]}`)),
		testkit.Unsigned(nil, c),
		testkit.HS256([]byte("k"), nil, c),
		"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30.e30",
	} {
		f.Add(tok)
	}
	v, err := New(context.Background(), Config{
		Issuer: "https://id.example.com", Audience: "order-status-api",
		StaticJWKS: testkit.JWKS(k), Clock: func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		var p parsed
		var hb [256]byte
		var sb [512]byte
		sig, e := v.parse(&p, token, hb[:0], sb[:0])
		if e == nil {
			checkParsed(t, token, &p, sig)
		} else if e.Check != CheckFormat {
			t.Fatalf("parse failed with %s", e.Check)
		}
		// The whole pipeline must not panic, and a fuzzer cannot forge an
		// ES256 signature, so only seed-like tokens may pass.
		if claims, err := v.Verify(context.Background(), token); err == nil && claims == nil {
			t.Fatal("nil claims without error")
		}
		v.Explain(context.Background(), token)
	})
}

func checkParsed(t *testing.T, token string, p *parsed, sig []byte) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %d parts", len(parts))
	}
	strict := base64.RawURLEncoding.Strict()
	hdr, err1 := strict.DecodeString(parts[0])
	payload, err2 := strict.DecodeString(parts[1])
	sig2, err3 := strict.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || strings.ContainsAny(token, "\r\n") {
		t.Fatalf("accepted non-canonical base64url: %v %v %v", err1, err2, err3)
	}
	if !bytes.Equal(payload, p.raw) || !bytes.Equal(sig, sig2) {
		t.Fatal("decoding differs from encoding/base64")
	}
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatalf("accepted header encoding/json refuses: %v", err)
	}
	for name, got := range map[string]string{"alg": p.hdr.alg, "kid": p.hdr.kid, "typ": p.hdr.typ} {
		if want, ok := h[name].(string); ok && want != got {
			t.Fatalf("header %s = %q, encoding/json says %q", name, got, want)
		}
	}
	if _, ok := h["crit"]; ok != p.hdr.hasCrit {
		t.Fatal("crit presence differs")
	}
	checkClaims(t, payload, &p.claims)
}

// FuzzClaims fuzzes the claims parser directly with JSON, where the fuzzer
// makes faster progress than through base64url.
//
//	go test ./verify -run '^$' -fuzz FuzzClaims -fuzztime 20s
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://id","aud":["a","b"],"exp":1767323045,"nbf":1.5,"iat":-1,"scope":"a b","sub":"\u00e9","x":{"y":[null,true,false,0,-0.0e+1]}}`,
		`{"aud":"x","aud":"y"}`, `{"a":{"b":1,"b":2}}`, `{"sub":"\ud83d\ude00"}`, `{"sub":"\ud83d"}`,
		`{"exp":"1"}`, `{"aud":1}`, `{"aud":[1]}`, `{} `, `{}x`, `[]`, `{"a":"ÿ"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var c rawClaims
		if err := parseClaims(string(payload), &c); err != nil {
			return
		}
		if !json.Valid(payload) || !utf8.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		checkClaims(t, payload, &c)
	})
}

// checkClaims compares what the strict parser extracted from an accepted
// payload with what encoding/json reads from it.
func checkClaims(t *testing.T, payload []byte, c *rawClaims) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("accepted payload encoding/json refuses: %v", err)
	}
	for name, got := range map[string]string{"iss": c.iss, "sub": c.sub, "azp": c.azp, "client_id": c.clientID, "scope": c.scope, "jti": c.jti} {
		want, isStr := m[name].(string)
		_, present := m[name]
		switch {
		case present != c.has[claimIndex(name)]:
			t.Fatalf("%s presence differs", name)
		case isStr && want != got:
			t.Fatalf("%s = %q, encoding/json says %q", name, got, want)
		case present && !isStr && c.typeErr[claimIndex(name)] == "":
			t.Fatalf("%s of type %T accepted as a string", name, m[name])
		}
	}
	switch a := m["aud"].(type) {
	case string:
		if len(c.aud) != 1 || c.aud[0] != a || c.typeErr[cAud] != "" {
			t.Fatalf("aud %q parsed as %q", a, c.aud)
		}
	case []any:
		ok := c.typeErr[cAud] == "" && len(c.aud) == len(a)
		for i, x := range a {
			s, isStr := x.(string)
			if !isStr {
				ok = c.typeErr[cAud] != ""
				break
			}
			if ok && c.aud[i] != s {
				ok = false
			}
		}
		if !ok {
			t.Fatalf("aud %v parsed as %q (%s)", a, c.aud, c.typeErr[cAud])
		}
	case nil:
		if _, present := m["aud"]; present != (c.typeErr[cAud] != "") {
			t.Fatalf("aud null parsed as %q", c.aud)
		}
	default:
		if c.typeErr[cAud] == "" {
			t.Fatalf("aud %T accepted", a)
		}
	}
	for name, got := range map[string]time.Time{"exp": c.exp, "nbf": c.nbf, "iat": c.iat} {
		f, isNum := m[name].(float64)
		i := claimIndex(name)
		switch {
		case isNum && c.typeErr[i] == "":
			if d := float64(got.Unix()) + float64(got.Nanosecond())/1e9 - f; math.Abs(d) > 1e-3+1e-12*math.Abs(f) {
				t.Fatalf("%s = %v, encoding/json says %v", name, got, f)
			}
		case !isNum && c.has[i] && c.typeErr[i] == "":
			t.Fatalf("%s of type %T accepted as a date", name, m[name])
		}
	}
}

func claimIndex(name string) int {
	return map[string]int{"iss": cIss, "sub": cSub, "aud": cAud, "azp": cAzp, "client_id": cClientID, "scope": cScope, "exp": cExp, "nbf": cNbf, "iat": cIat, "jti": cJti}[name]
}
