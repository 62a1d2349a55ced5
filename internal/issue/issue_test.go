package issue

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

func ring(t testing.TB, alg string) *keys.Ring {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := keys.Open(context.Background(), st, keys.Options{Alg: alg, Secret: strings.Repeat("s", 32), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var fixed = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestAccessTokenClaims(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			r := ring(t, alg)
			m := New("https://id.example.com", 10*time.Minute, r, func() time.Time { return fixed })
			tests := []struct {
				name  string
				grant policy.Grant
				jkt   string
				want  string
			}{
				{"several audiences", policy.Grant{Audience: oauth.Audience{"job", "api"}, AZP: "job", Scope: "a b"},
					"", `{"iss":"https://id.example.com","sub":"job","aud":["job","api"],"azp":"job","client_id":"job","scope":"a b","iat":1795435200,"exp":1795435800,"jti":"JTI"}`},
				{"single audience is a string, no azp, no scope", policy.Grant{Audience: oauth.Audience{"job"}},
					"", `{"iss":"https://id.example.com","sub":"job","aud":"job","client_id":"job","iat":1795435200,"exp":1795435800,"jti":"JTI"}`},
				{"bound to a DPoP key", policy.Grant{Audience: oauth.Audience{"api"}, Scope: "a"}, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
					`{"iss":"https://id.example.com","sub":"job","aud":"api","client_id":"job","scope":"a","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},"iat":1795435200,"exp":1795435800,"jti":"JTI"}`},
			}
			for _, tc := range tests {
				minted, err := m.AccessToken(Access{Subject: "job", ClientID: "job", Grant: tc.grant, JKT: tc.jkt})
				if err != nil {
					t.Fatal(err)
				}
				jws, err := jose.ParseSigned(minted.Token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				h := jws.Signatures[0].Protected
				if h.KeyID != r.Signer().KID || h.ExtraHeaders["typ"] != "at+jwt" || h.Algorithm != alg {
					t.Errorf("%s: header %+v", tc.name, h)
				}
				payload, err := jws.Verify(r.Signer().Public())
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				got := strings.Replace(string(payload), minted.JTI, "JTI", 1)
				if got != tc.want {
					t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
				}
				if len(minted.JTI) != 22 || !minted.ExpiresAt.Equal(fixed.Add(10*time.Minute)) {
					t.Errorf("jti %q exp %v", minted.JTI, minted.ExpiresAt)
				}
			}
		})
	}
}

// TestEscaping: values that need JSON escaping come out as valid JSON
// holding exactly the original strings.
func TestEscaping(t *testing.T) {
	r := ring(t, "ES256")
	m := New("https://id.example.com", time.Minute, r, time.Now)
	odd := "a\"b\\c\x01d<é>\xff"
	minted, err := m.AccessToken(Access{Subject: odd, ClientID: "c", Grant: policy.Grant{Audience: oauth.Audience{odd, "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := jose.ParseSigned(minted.Token, []jose.SignatureAlgorithm{jose.ES256})
	payload, err := jws.Verify(r.Signer().Public())
	if err != nil {
		t.Fatal(err)
	}
	var c oauth.AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("invalid JSON %s: %v", payload, err)
	}
	want := strings.ToValidUTF8(odd, "\uFFFD")
	if c.Subject != want || c.Audience[0] != want {
		t.Errorf("sub %q aud %q", c.Subject, c.Audience)
	}
}

func TestHeaderFollowsRotation(t *testing.T) {
	r := ring(t, "ES256")
	m := New("https://id.example.com", time.Minute, r, time.Now)
	kid := func() string {
		minted, err := m.AccessToken(Access{Subject: "c", ClientID: "c", Grant: policy.Grant{Audience: oauth.Audience{"c"}}})
		if err != nil {
			t.Fatal(err)
		}
		jws, _ := jose.ParseSigned(minted.Token, []jose.SignatureAlgorithm{jose.ES256})
		return jws.Signatures[0].Protected.KeyID
	}
	before := kid()
	if err := r.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := kid(); after == before || after != r.Signer().KID {
		t.Fatalf("kid before %s after %s, ring signs with %s", before, after, r.Signer().KID)
	}
}

// BenchmarkMint mints one access token per op; BenchmarkBareSign signs the
// same-size input with the standard library alone, for the ratio.
func BenchmarkMint(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			m := New("http://127.0.0.1:8080", 10*time.Minute, ring(b, alg), time.Now)
			a := Access{Subject: "order-sync-job", ClientID: "order-sync-job", Grant: policy.Grant{
				Audience: oauth.Audience{"order-sync-job", "order-status-api"}, AZP: "order-sync-job", Scope: "orders:read orders:write"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.AccessToken(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBareSign(b *testing.B) {
	input := []byte(strings.Repeat("x", 380)) // the size of header.payload above
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	signs := map[string]func() error{
		"ES256": func() error { h := sha256.Sum256(input); _, err := ecdsa.SignASN1(rand.Reader, ec, h[:]); return err },
		"EdDSA": func() error { ed25519.Sign(ed, input); return nil },
		"RS256": func() error {
			h := sha256.Sum256(input)
			_, err := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, h[:])
			return err
		},
	}
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := signs[alg](); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
