package oauth

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Golden wire formats: every body Gatehouse writes, byte for byte. Run
// with -update to rewrite testdata/*.json after a deliberate change.
var update = os.Getenv("GATEHOUSE_UPDATE_GOLDEN") != ""

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", name+".json")
	if update {
		if err := os.WriteFile(file, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGoldenWire(t *testing.T) {
	golden(t, "token_response_user", TokenResponse{AccessToken: "eyJ.a.b", TokenType: "Bearer", ExpiresIn: 600,
		Scope: "openid orders:read", RefreshToken: "r", IDToken: "eyJ.c.d"})
	golden(t, "token_response_client", TokenResponse{AccessToken: "eyJ.a.b", TokenType: "Bearer", ExpiresIn: 600})
	golden(t, "error_invalid_target", InvalidTarget("client 'a' may not obtain a token for 'b'"))
	golden(t, "error_server", ServerError(os.ErrNotExist))
	golden(t, "introspection_active", Introspection{Active: true, TokenType: "Bearer", Scope: "orders:read",
		ClientID: "portal", Subject: "alice", Audience: Audience{"portal", "orders"}, AZP: "portal",
		Issuer: "https://id.example.com", IssuedAt: 1796390000, Expiry: 1796390600, JTI: "j"})
	golden(t, "introspection_single_audience", Introspection{Active: true, TokenType: "refresh_token",
		ClientID: "portal", Subject: "alice", Audience: Audience{"orders"}, Issuer: "https://id.example.com",
		IssuedAt: 1796390000, Expiry: 1796393600})
	golden(t, "introspection_inactive", InactiveIntrospection)
	golden(t, "access_claims", AccessClaims{Issuer: "https://id.example.com", Subject: "alice", Audience: Audience{"orders"},
		ClientID: "portal", AZP: "portal", Scope: "orders:read", IssuedAt: 1796390000, Expiry: 1796390600, JTI: "j"})
}

// FuzzAudience: whatever UnmarshalJSON accepts marshals back to JSON that
// unmarshals to the same values, and a single value is a JSON string.
func FuzzAudience(f *testing.F) {
	for _, s := range []string{`"a"`, `["a","b"]`, `[]`, `["é\u0000"]`, `null`, `1`, `[["a"]]`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Audience
		if err := json.Unmarshal(b, &a); err != nil {
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("marshal %q: %v", a, err)
		}
		var back Audience
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-unmarshal %s: %v", out, err)
		}
		if len(back) != len(a) && !(len(a) == 0 && len(back) == 0) {
			t.Fatalf("round trip %q → %s → %q", a, out, back)
		}
		for i := range a {
			if back[i] != a[i] && json.Valid(b) {
				// Invalid UTF-8 is replaced by U+FFFD on marshalling,
				// which is the one permitted change.
				if !bytes.ContainsRune([]byte(back[i]), '\uFFFD') {
					t.Fatalf("round trip %q → %s → %q", a, out, back)
				}
			}
		}
		if len(a) == 1 && out[0] != '"' {
			t.Fatalf("a single audience marshals to %s, not a string", out)
		}
	})
}
