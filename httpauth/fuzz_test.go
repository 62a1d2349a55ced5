package httpauth

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/verify"
)

// FuzzBearerToken checks the Authorization header parser's invariants: an
// accepted header is exactly "Bearer" (any case), one or more spaces and a
// b64token; every refusal is a bare 401 or a 400 invalid_request; and
// whatever the input, the challenge built from it stays one header line
// with balanced quoting.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "bearer abc==", "Bearer   abc",
		"Bearer", "Bearer ", "Bearer\tabc", "Basic dXNlcg==", "", " Bearer abc", "Bearer a b",
		"Bearer a=b", "Bearer ===", "Bearer abc\r\nX: y", "Bearer \"abc\"", "Bearerabc",
	} {
		f.Add(s, `realm "x"\`)
	}
	f.Fuzz(func(t *testing.T, header, realm string) {
		tok, err := bearerToken(http.Header{"Authorization": {header}})
		if err == nil {
			if tok == "" || !isB64Token(tok) {
				t.Fatalf("accepted token %q is not a b64token", tok)
			}
			if !strings.HasSuffix(header, tok) || !strings.EqualFold(header[:6], "Bearer") ||
				strings.Trim(header[6:len(header)-len(tok)], " ") != "" || len(header)-len(tok) < 7 {
				t.Fatalf("accepted %q from %q", tok, header)
			}
		} else {
			switch {
			case err.Status == http.StatusUnauthorized && err.Code == "":
			case err.Status == http.StatusBadRequest && err.Code == CodeInvalidRequest:
			default:
				t.Fatalf("refusal %d %q", err.Status, err.Code)
			}
			if strings.Contains(err.Reason(), header) && len(header) > 8 {
				t.Fatalf("the reason quotes the header: %q", err.Reason())
			}
		}

		m := New(verifierFunc(nil), WithRealm(realm))
		ch := m.challengeFor(CodeInsufficientScope, paramValue(header), header)
		if strings.ContainsAny(ch, "\r\n\x00") {
			t.Fatalf("control character in %q", ch)
		}
		// Outside quoted-strings only the fixed syntax may appear: the
		// realm's quotes must all be escaped, the other values have none.
		inQuote, quotes := false, 0
		for i := 0; i < len(ch); i++ {
			switch {
			case inQuote && ch[i] == '\\':
				i++
			case ch[i] == '"':
				inQuote = !inQuote
				quotes++
			}
		}
		want := 8
		if realm == "" {
			want = 6 // no realm attribute
		}
		if inQuote || quotes != want {
			t.Fatalf("%d quotes in %q", quotes, ch)
		}
	})
}

type verifierFunc func()

func (verifierFunc) Verify(_ context.Context, _ string, _ ...string) (*verify.Claims, error) {
	return nil, nil
}

// TestB64tokenChar compares the bitmasks with the grammar of RFC 6750 §2.1.
func TestB64tokenChar(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~+/", rune(c))
		if got := b64tokenChar(byte(c)); got != want {
			t.Errorf("%q: %v, want %v", rune(c), got, want)
		}
	}
}
