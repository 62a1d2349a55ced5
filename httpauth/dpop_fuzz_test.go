package httpauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/verify"
)

// FuzzDPoPCredentials checks the DPoP Authorization parser: an accepted
// header is "DPoP" (any case), spaces and a token68; a header of another
// scheme is left alone; every refusal is 400 invalid_request on the DPoP
// challenge; and the challenges built from any input stay single header
// lines with balanced quoting.
//
//	go test ./httpauth -run '^$' -fuzz FuzzDPoPCredentials -fuzztime 20s
func FuzzDPoPCredentials(f *testing.F) {
	for _, s := range []string{
		"DPoP eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "dpop abc==", "DPoP   abc", "DPoP", "DPoP ",
		"DPoP\tabc", "DPoPabc", "Bearer abc", "DPoP a b", "DPoP abc\r\nX: y", "DPoP \"abc\"",
	} {
		f.Add(s, `realm "x"\`)
	}
	f.Fuzz(func(t *testing.T, header, realm string) {
		tok, ok, err := dpopCredentials(http.Header{"Authorization": {header}})
		switch {
		case !ok:
			if len(header) >= 4 && strings.EqualFold(header[:4], "DPoP") && (len(header) == 4 || header[4] == ' ' || header[4] == '\t') {
				t.Fatalf("DPoP header %q not recognised", header)
			}
		case err == nil:
			if tok == "" || !isB64Token(tok) || !strings.HasSuffix(header, tok) || strings.Trim(header[4:len(header)-len(tok)], " ") != "" {
				t.Fatalf("accepted %q from %q", tok, header)
			}
		default:
			if err.Status != http.StatusBadRequest || err.Code != CodeInvalidRequest || err.Scheme != SchemeDPoP {
				t.Fatalf("refusal %d %q %q", err.Status, err.Code, err.Scheme)
			}
		}

		m := New(dpopVerifierFunc(nil), WithRealm(realm))
		for _, scheme := range []string{SchemeBearer, SchemeDPoP} {
			for _, ch := range m.challenges(&Error{Code: CodeInsufficientScope, Scope: header, Scheme: scheme}, paramValue(header)) {
				if strings.ContainsAny(ch, "\r\n\x00") {
					t.Fatalf("control character in %q", ch)
				}
				inQuote := false
				for i := 0; i < len(ch); i++ {
					switch {
					case inQuote && ch[i] == '\\':
						i++
					case ch[i] == '"':
						inQuote = !inQuote
					}
				}
				if inQuote {
					t.Fatalf("unbalanced quotes in %q", ch)
				}
			}
		}
	})
}

// dpopVerifierFunc is a DPoPVerifier that accepts nothing.
type dpopVerifierFunc func()

func (dpopVerifierFunc) Verify(context.Context, string, ...string) (*verify.Claims, error) {
	return nil, errors.New("no")
}

func (dpopVerifierFunc) VerifyDPoP(context.Context, string, string, verify.ProofRequest, ...string) (*verify.Claims, *verify.Proof, error) {
	return nil, nil, errors.New("no")
}

func (dpopVerifierFunc) DPoPAlgorithms() []string { return []string{"ES256"} }
