package issue

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// TestIDTokenAlg: an ID token is signed with the requested algorithm's
// active key (header alg, kid and typ JWT to match, at_hash with that
// alg's hash), or with the primary key when none is requested.
func TestIDTokenAlg(t *testing.T) {
	r := ring(t, "ES256")
	m := New("https://id.example.com", 10*time.Minute, r, func() time.Time { return fixed })
	rs, ok := r.SignerFor(keys.RS256)
	if !ok {
		t.Fatal("the ES256 ring has no RS256 signer")
	}
	tests := []struct {
		alg  string
		want *keys.Signer
	}{
		{"", r.Signer()},
		{"ES256", r.Signer()},
		{"RS256", rs},
	}
	for _, tc := range tests {
		id := Identity{Subject: "alice", ClientID: "web", Nonce: "n", AccessToken: "at-value", Alg: tc.alg}
		minted, err := m.IDToken(id)
		if err != nil {
			t.Fatalf("alg %q: %v", tc.alg, err)
		}
		jws, err := jose.ParseSigned(minted.Token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
		if err != nil {
			t.Fatalf("alg %q: %v", tc.alg, err)
		}
		h := jws.Signatures[0].Protected
		if h.Algorithm != tc.want.Alg || h.KeyID != tc.want.KID || h.ExtraHeaders["typ"] != "JWT" {
			t.Errorf("alg %q: header alg %s kid %s typ %v; want %s %s JWT", tc.alg, h.Algorithm, h.KeyID, h.ExtraHeaders["typ"], tc.want.Alg, tc.want.KID)
		}
		payload, err := jws.Verify(tc.want.Public())
		if err != nil {
			t.Fatalf("alg %q: signature: %v", tc.alg, err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c["aud"] != "web" || c["sub"] != "alice" || c["nonce"] != "n" || c["at_hash"] != HalfHash(tc.want.Alg, "at-value") {
			t.Errorf("alg %q: claims %v", tc.alg, c)
		}
	}

	// An algorithm the ring keeps no key for is an error, never a
	// silent fallback to another algorithm the client would reject.
	if _, err := m.IDToken(Identity{Subject: "alice", ClientID: "web", Alg: "EdDSA"}); err == nil || !strings.Contains(err.Error(), "EdDSA") {
		t.Errorf("IDToken with alg EdDSA on an ES256 ring = %v, want an error", err)
	}
}
