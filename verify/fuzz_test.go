package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
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
		`{"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`, `{"cnf":{"jkt":1,"x5t#S256":"a"}}`, `{"cnf":"x"}`,
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
	if twins := caseTwins(payload); twins != "" {
		t.Fatalf("accepted payload with %s", twins)
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
	if cnf, isObj := m["cnf"].(map[string]any); isObj {
		jkt, isStr := cnf["jkt"].(string)
		_, hasJKT := cnf["jkt"]
		if hasJKT != c.hasJKT || isStr && jkt != c.jkt || hasJKT && !isStr && c.typeErr[cCnf] == "" {
			t.Fatalf("cnf %v parsed as jkt %q (%v, %s)", cnf, c.jkt, c.hasJKT, c.typeErr[cCnf])
		}
	} else if _, present := m["cnf"]; present && c.typeErr[cCnf] == "" {
		t.Fatalf("cnf of type %T accepted", m["cnf"])
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
	return map[string]int{"iss": cIss, "sub": cSub, "aud": cAud, "azp": cAzp, "client_id": cClientID, "scope": cScope, "exp": cExp, "nbf": cNbf, "iat": cIat, "jti": cJti, "cnf": cCnf}[name]
}

// FuzzFoldKey checks that foldKey equates exactly the names strings.EqualFold
// (and so encoding/json v1) equates.
//
//	go test ./verify -run '^$' -fuzz FuzzFoldKey -fuzztime 20s
func FuzzFoldKey(f *testing.F) {
	for _, p := range [][2]string{
		{"role", "ROLE"}, {"kid", "\u212Aid"}, {"scope", "\u017Fcope"}, {"i", "\u0130"}, {"\u03a3", "\u03c2"},
		{"x", "X"}, {"sub", "sub"}, {"aud", "aud "}, {"\u00e9", "\u00c9"}, {"", ""},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // the scanner refuses invalid UTF-8 before folding
		}
		if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
			t.Fatalf("foldKey(%q) == foldKey(%q) is %v; EqualFold says %v", a, b, got, want)
		}
		if k := foldKey(a); foldKey(k) != k || !strings.EqualFold(k, a) {
			t.Fatalf("foldKey(%q) = %q is not a fixed point of its class", a, k)
		}
	})
}

// FuzzJWKS feeds arbitrary bytes to the JWK Set parser and cross-checks
// what it accepts against encoding/json: valid JSON without repeated or
// case-twin names, and every key it loaded backed by a member whose exact
// kid and kty encoding/json sees.
//
//	go test ./verify -run '^$' -fuzz FuzzJWKS -fuzztime 20s
func FuzzJWKS(f *testing.F) {
	es, ed, rs := testkit.ES256Key("es"), testkit.EdDSAKey("ed"), testkit.RS256Key("rs", 0)
	f.Add(testkit.JWKS(es, ed, rs))
	f.Add(testkit.JWKS(es, testkit.ES256Key("es")))
	for _, s := range []string{
		`{"keys":[]}`, `{"keys":null}`, `{"keys":[null,1,"x",{}]}`, `{"KEYS":[]}`, `{"keys":[],"Keys":[]}`,
		`{"keys":[{"kty":"EC","KTY":"RSA"}]}`, `{"keys":[{"kid":"a","kid":"b"}]}`, `{"keys":[{"kid":1,"key_ops":["verify",2]}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"\u212A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		snap, err := parseJWKS(body)
		if err != nil {
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if twins := caseTwins(body); twins != "" {
			t.Fatalf("accepted a set with %s", twins)
		}
		var set struct {
			Keys []any `json:"keys"`
		}
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatalf("encoding/json refuses an accepted set: %v", err)
		}
		for kid, keys := range snap.byKid {
			for _, k := range keys {
				found := false
				for _, raw := range set.Keys {
					m, _ := raw.(map[string]any)
					if m["kid"] == kid && m["kty"] == map[string]string{"ES256": "EC", "EdDSA": "OKP", "RS256": "RSA"}[k.alg] {
						found = true
					}
				}
				if !found {
					t.Fatalf("key %q (%s) loaded without a member with that exact kid and kty", kid, k.alg)
				}
			}
		}
	})
}

// caseTwins walks JSON with encoding/json's tokenizer, independently of the
// scanner, and describes the first object whose member names repeat up to
// case (strings.EqualFold), or returns "".
func caseTwins(data []byte) string {
	type frame struct {
		object, wantKey bool
		names           []string
	}
	var stack []*frame
	// done marks the end of one value inside the enclosing frame.
	done := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "" // io.EOF, or invalid JSON, which callers test otherwise
		}
		top := (*frame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if name, ok := tok.(string); ok && top != nil && top.object && top.wantKey {
			for _, prev := range top.names {
				if strings.EqualFold(prev, name) {
					return "members " + strconv.Quote(prev) + " and " + strconv.Quote(name)
				}
			}
			top.names = append(top.names, name)
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}
