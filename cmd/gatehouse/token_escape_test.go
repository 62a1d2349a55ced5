package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestTokenExplainEscapesTokenText: whatever a token's header and payload
// hold — ESC sequences that retitle or clear the terminal, a fake ACCEPTED
// line, bidi overrides, C1 controls, invalid UTF-8 — explain prints it as
// visible escapes, both for a malformed token (its raw bytes) and for a
// well-formed one whose claims end up in the fix hints.
func TestTokenExplainEscapesTokenText(t *testing.T) {
	key := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, key)
	now := time.Now().Unix()
	malformed := key.SignRaw(
		[]byte("{\"alg\":\"ES256\",\"kid\":\"k1\x1b]0;owned\x07\",\"typ\":\"at+jwt\"}"),
		[]byte("{\"iss\":\"\x1b[2J\x1b[1;1H\nACCEPTED: hr-api would accept this token.\n\",\"x\":\"\u202e\u0085\x9b\xff\x7f\t\"}"))
	// Valid JSON: the escapes stay JSON text in the claims display, but the
	// decoded values (with real control characters) reach the hints.
	wellFormed := key.SignRaw(
		[]byte(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`),
		fmt.Appendf(nil, `{"iss":"evil\u001b]0;owned\u0007","aud":"someone","azp":"\u001b[2Jfake\u202e","sub":"`+"\u202e\u2066x\u0085"+`","exp":%d,"iat":%d,"scope":"a"}`, now+600, now))

	for name, tok := range map[string]string{"malformed": malformed, "well-formed": wellFormed} {
		var out bytes.Buffer
		root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
		root.SetArgs([]string{"token", "explain", "--issuer", iss.URL, "--jwks-url", iss.URL + "/jwks", "--audience", "hr-api", tok})
		if err := root.Execute(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		got := out.String()
		if !utf8.ValidString(got) {
			t.Errorf("%s: output is not valid UTF-8:\n%q", name, got)
		}
		for i, r := range got {
			switch {
			case r == '\n' || r == '\t':
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f),
				r == 0x061c, r == 0x200e, r == 0x200f,
				r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
				t.Errorf("%s: output holds %U at byte %d:\n%q", name, r, i, got)
			}
		}
		for _, line := range strings.Split(got, "\n") {
			if strings.HasPrefix(line, "ACCEPTED") {
				t.Errorf("%s: a token's text printed as an ACCEPTED line:\n%s", name, got)
			}
		}
		t.Logf("%s:\n%s", name, got)
		for _, want := range []string{`\x1b`, `\u202e`} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: output lacks the visible escape %s:\n%s", name, want, got)
			}
		}
	}
}
