package verify

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// FuzzProofCheck feeds arbitrary strings to ProofChecker.Check. It must not
// panic, and whatever it accepts must be what an independent reading
// accepts too: three strict base64url parts, valid JSON, typ dpop+jwt,
// and a JKT equal to go-jose's thumbprint of the header's jwk. A fuzzer
// cannot forge a signature, so only seed-like proofs can get that far.
//
//	go test ./verify -run '^$' -fuzz FuzzProofCheck -fuzztime 20s
func FuzzProofCheck(f *testing.F) {
	now := testkit.Epoch
	const u = "https://api.example.com/r"
	claims := func(extra string) []byte {
		return []byte(`{"jti":"j1","htm":"GET","htu":"` + u + `","iat":` + jsonInt(now.Unix()) + extra + `}`)
	}
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		k := testkit.NewKey(alg, "fuzz")
		jwk, _ := json.Marshal(k.JWK())
		hdr := []byte(`{"alg":"` + alg + `","typ":"dpop+jwt","jwk":` + string(jwk) + `}`)
		f.Add(k.SignRaw(hdr, claims("")))
		f.Add(k.SignRaw(hdr, claims(`,"nonce":"n","ath":"x"`)))
		f.Add(k.SignRaw([]byte(`{"alg":"`+alg+`","typ":"dpop+jwt","typ":"x","jwk":`+string(jwk)+`}`), claims("")))
	}
	for _, s := range []string{"", ".", "..", "e30.e30.", "a.b.c", "e30.e30.e30.e30", "x, y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		c, err := NewProofChecker(ProofConfig{Replay: NewMemoryReplayCacheClock(4, func() time.Time { return now }), Clock: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Check(context.Background(), proof, ProofRequest{Method: "GET", URL: u})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			if p != nil {
				t.Fatal("proof with an error")
			}
			return
		}
		parts := strings.Split(proof, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d parts", len(parts))
		}
		strict := base64.RawURLEncoding.Strict()
		hdr, err1 := strict.DecodeString(parts[0])
		payload, err2 := strict.DecodeString(parts[1])
		if err1 != nil || err2 != nil || strings.ContainsAny(proof, "\r\n") {
			t.Fatalf("accepted non-base64url: %v %v", err1, err2)
		}
		var h struct {
			Typ string          `json:"typ"`
			JWK jose.JSONWebKey `json:"jwk"`
		}
		if err := json.Unmarshal(hdr, &h); err != nil || !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON: %v", err)
		}
		if h.Typ != "dpop+jwt" {
			t.Fatalf("accepted typ %q", h.Typ)
		}
		tp, err := h.JWK.Thumbprint(crypto.SHA256)
		if err != nil || base64.RawURLEncoding.EncodeToString(tp) != p.JKT {
			t.Fatalf("JKT %s disagrees with go-jose (%v)", p.JKT, err)
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// FuzzNormalizeHTU: the normal form is a fixed point, an absolute http(s)
// URL without query, fragment or userinfo, with scheme and host in lower
// case, and equal for the request's and the proof's readings of a URL
// without query.
//
//	go test ./verify -run '^$' -fuzz FuzzNormalizeHTU -fuzztime 20s
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/a", "HTTP://A.example:80", "https://h:0443/%7e/./b/../c?q#f",
		"https://[::1]:8443/x", "https://u@h/", "https://h/%zz", "ftp://h/", "https://h:/p/.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, why := normalizeHTU(s, true)
		if why != "" {
			return
		}
		if n2, why := normalizeHTU(n, false); why != "" || n2 != n {
			t.Fatalf("%q normalises to %q, which normalises to %q (%s)", s, n, n2, why)
		}
		pu, err := url.Parse(n)
		if err != nil {
			t.Fatalf("%q normalises to %q, which url.Parse refuses: %v", s, n, err)
		}
		if pu.Scheme != "http" && pu.Scheme != "https" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "" || strings.ToLower(pu.Host) != pu.Host {
			t.Fatalf("%q normalises to %q", s, n)
		}
		if !strings.ContainsAny(s, "?#") {
			if p, why := normalizeHTU(s, false); why != "" || p != n {
				t.Fatalf("%q: request form %q, proof form %q (%s)", s, n, p, why)
			}
		}
	})
}

func TestNormalizeHTU(t *testing.T) {
	same := [][2]string{
		{"https://api.example.com/orders", "HTTPS://API.EXAMPLE.COM/orders"},
		{"https://api.example.com/orders", "https://api.example.com:443/orders"},
		{"http://api.example.com/", "http://api.example.com:80"},
		{"http://api.example.com/", "http://api.example.com:"},
		{"https://h/~a", "https://h/%7Ea"},
		{"https://h/~a", "https://h/%7ea"},
		{"https://h/%2F", "https://h/%2f"},
		{"https://h/a/c", "https://h/a/b/../c"},
		{"https://h/a/", "https://h/a/./"},
		{"https://h/", "https://h/../.."},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://h:8443/x", "https://h:08443/x"},
	}
	for _, p := range same {
		a, why1 := normalizeHTU(p[0], false)
		b, why2 := normalizeHTU(p[1], false)
		if why1 != "" || why2 != "" || a != b {
			t.Errorf("%s (%s %s) and %s (%s %s) differ", p[0], a, why1, p[1], b, why2)
		}
	}
	differ := [][2]string{
		{"https://h/a", "http://h/a"},
		{"https://h/a", "https://h:8443/a"},
		{"https://h/a", "https://h/A"},
		{"https://h/a/b", "https://h/a%2Fb"},
		{"https://h/a", "https://h/a/"},
	}
	for _, p := range differ {
		a, _ := normalizeHTU(p[0], false)
		b, _ := normalizeHTU(p[1], false)
		if a == b {
			t.Errorf("%s and %s both normalise to %s", p[0], p[1], a)
		}
	}
	for _, bad := range []string{"", "/a", "h/a", "ftp://h/", "https://u:p@h/", "https://h/%g0", "https://h/a b", "https:///a", "https://h:x/", "https://h/?q", "https://h/#f"} {
		if n, why := normalizeHTU(bad, false); why == "" {
			t.Errorf("%q accepted as %q", bad, n)
		}
	}
	if n, why := normalizeHTU("https://h/a?q=1#f", true); why != "" || n != "https://h/a" {
		t.Errorf("request URL with query: %q %s", n, why)
	}
	// A normal URL costs no allocation: it is the common case.
	if a := testing.AllocsPerRun(100, func() { normalizeHTU("https://api.example.com/orders/42", false) }); a != 0 {
		t.Errorf("%v allocations for a normal URL", a)
	}
}
