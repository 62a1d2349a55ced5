package verify_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

const (
	api    = "order-status-api"
	client = "customer-portal"
)

type env struct {
	t   *testing.T
	iss *testkit.Issuer
	key *testkit.Key
	v   *verify.Verifier
}

// newEnv starts an issuer with one ES256 key and a verifier for api that
// follows the issuer's clock.
func newEnv(t *testing.T, opts ...func(*verify.Config)) *env {
	t.Helper()
	k := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, k)
	cfg := verify.Config{Issuer: iss.URL, Audience: api, Clock: iss.Clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, iss: iss, key: k, v: v}
}

// claims are a customer-portal token for the portal and the order API.
func (e *env) claims() testkit.Claims {
	return e.iss.Claims(client, "openid orders:read", client, api)
}

func (e *env) header() map[string]any { return e.key.Header() }

// raw signs header and payload JSON verbatim with the issuer's key.
func (e *env) raw(header, payload string) string {
	return e.key.SignRaw([]byte(header), []byte(payload))
}

// payload returns a valid claims JSON with member replaced by (or, when
// not present, added as) name: value, the value as raw JSON.
func (e *env) payload(name, value string) string {
	c := e.claims().Without(name)
	b := mustMarshal(e.t, c)
	if value == "" {
		return b
	}
	return strings.TrimSuffix(b, "}") + `,"` + name + `":` + value + "}"
}

func (e *env) hdr() string {
	return `{"alg":"ES256","kid":"k1","typ":"at+jwt"}`
}

// wantCheck asserts err is a *verify.Error for check, reachable through
// both errors.As and errors.Is.
func wantCheck(t *testing.T, err error, check verify.Check) *verify.Error {
	t.Helper()
	if check == "" {
		if err != nil {
			t.Fatalf("want accepted, got %v", err)
		}
		return nil
	}
	if err == nil {
		t.Fatalf("want %s failure, got accepted", string(check))
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("want *verify.Error, got %T %v", err, err)
	}
	if ve.Check != check || !errors.Is(err, check) {
		t.Fatalf("want %s failure, got %s: %v", string(check), string(ve.Check), err)
	}
	if ve.Reason == "" {
		t.Errorf("%s failure without a reason", string(check))
	}
	return ve
}

func TestChecks(t *testing.T) {
	e := newEnv(t)
	stranger := testkit.ES256Key("stranger")
	now := e.iss.Clock.Now()
	unix := func(d time.Duration) int64 { return now.Add(d).Unix() }
	c := e.claims()

	tests := []struct {
		name   string
		token  string
		scopes []string
		want   verify.Check
		value  string      // expected Error.Value, when checked
		code   verify.Code // expected Error.Code, when checked
	}{
		{name: "valid", token: e.key.Sign(c), scopes: []string{"orders:read"}},
		{name: "valid single audience string", token: e.key.Sign(c.With("aud", api))},
		{name: "valid typ application/at+jwt", token: e.key.Sign(c, map[string]any{"typ": "application/at+jwt"})},
		{name: "valid typ in other case", token: e.key.Sign(c, map[string]any{"typ": "AT+JWT"})},
		{name: "valid unknown claims and headers", token: e.raw(`{"alg":"ES256","kid":"k1","typ":"at+jwt","x-custom":{"a":[1,2,{"b":null}]}}`, e.payload("ext", `{"roles":["a","b"],"n":-1.5e3,"t":true,"f":false,"z":null}`))},
		{name: "valid escaped strings", token: e.raw(e.hdr(), e.payload("sub", `"us\u00e9r\n\"1\" \ud83d\ude00"`))},
		{name: "valid fractional exp", token: e.raw(e.hdr(), e.payload("exp", strconv.FormatInt(unix(time.Minute), 10)+".5"))},
		{name: "valid whitespace in JSON", token: e.raw(" {\n\"alg\" : \"ES256\",\t\"kid\":\"k1\" ,\"typ\":\"at+jwt\"}\r\n", e.payload("jti", ` "x" `))},
		{name: "valid within exp leeway", token: e.key.Sign(c.With("exp", unix(-20*time.Second)))},
		{name: "valid within nbf leeway", token: e.key.Sign(c.With("nbf", unix(20*time.Second)))},
		{name: "valid without nbf and iat", token: e.key.Sign(c.Without("nbf").Without("iat"))},

		{name: "size", token: e.key.Sign(c.With("pad", strings.Repeat("x", 9000))), want: verify.CheckSize, code: verify.CodeNotAccepted},

		{name: "empty", token: "", want: verify.CheckFormat},
		{name: "one part", token: "abc", want: verify.CheckFormat},
		{name: "two parts", token: "abc.def", want: verify.CheckFormat},
		{name: "four parts", token: e.key.Sign(c) + ".x", want: verify.CheckFormat},
		{name: "JWE five parts", token: "a.b.c.d.e", want: verify.CheckFormat},
		{name: "padding", token: strings.Replace(e.raw(`{"alg":"ES256","kid":"k1","typ":"at+jwt","a":"x"}`, e.payload("", "")), ".", "=.", 1), want: verify.CheckFormat},
		{name: "newline in base64", token: e.key.Sign(c)[:10] + "\n" + e.key.Sign(c)[10:], want: verify.CheckFormat},
		{name: "standard base64 alphabet", token: "+" + e.key.Sign(c)[1:], want: verify.CheckFormat},
		{name: "non-canonical trailing bits", token: nonCanonical(e.key.Sign(c)), want: verify.CheckFormat},
		{name: "header not JSON", token: e.raw(`alg=ES256`, e.payload("", "")), want: verify.CheckFormat},
		{name: "header is an array", token: e.raw(`["ES256"]`, e.payload("", "")), want: verify.CheckFormat},
		{name: "header trailing data", token: e.raw(e.hdr()+`{}`, e.payload("", "")), want: verify.CheckFormat},
		{name: "header duplicate alg", token: e.raw(`{"alg":"none","alg":"ES256","kid":"k1","typ":"at+jwt"}`, e.payload("", "")), want: verify.CheckFormat},
		{name: "header alg not a string", token: e.raw(`{"alg":["ES256"],"kid":"k1","typ":"at+jwt"}`, e.payload("", "")), want: verify.CheckFormat},
		{name: "payload duplicate aud", token: e.raw(e.hdr(), strings.TrimSuffix(e.payload("", ""), "}")+`,"aud":"hr-api"}`), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload duplicate via escape", token: e.raw(e.hdr(), strings.TrimSuffix(e.payload("", ""), "}")+`,"\u0061ud":"hr-api"}`), want: verify.CheckFormat},
		{name: "payload nested duplicate", token: e.raw(e.hdr(), e.payload("ext", `{"a":1,"a":2}`)), want: verify.CheckFormat},
		{name: "payload many members with a duplicate", token: e.raw(e.hdr(), manyMembers(e.payload("", ""), 40, true)), want: verify.CheckFormat},
		{name: "payload many members", token: e.raw(e.hdr(), manyMembers(e.payload("", ""), 40, false))},
		// Names differing only in case (Unicode simple folding, as
		// encoding/json v1 matches them) are duplicates too: a caller's
		// case-insensitive decoder could pick the other one.
		{name: "payload case twins", token: e.raw(e.hdr(), e.payload("role", `"user","ROLE":"admin"`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload case twin of a registered claim", token: e.raw(e.hdr(), e.payload("Aud", `"hr-api"`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload case twin via escape", token: e.raw(e.hdr(), e.payload("role", `"user","\u0052OLE":"admin"`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload case twin via long s", token: e.raw(e.hdr(), e.payload("ext", `1,"\u017Fcope":"orders:admin"`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload case twin in raw UTF-8", token: e.raw(e.hdr(), e.payload("ext", "1,\"\u017fcope\":\"orders:admin\"")), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload case twin via Kelvin sign", token: e.raw(e.hdr(), e.payload("kind", `"a","\u212Aind":"b"`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload nested case twins", token: e.raw(e.hdr(), e.payload("ext", `{"role":"user","Role":"admin"}`)), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "payload many members with a case twin", token: e.raw(e.hdr(), strings.TrimSuffix(manyMembers(e.payload("", ""), 40, false), "}")+`,"MXXXXX":2}`), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "header case twins", token: e.raw(`{"alg":"ES256","kid":"k1","typ":"at+jwt","ALG":"none"}`, e.payload("", "")), want: verify.CheckFormat, code: verify.CodeDuplicateMember},
		{name: "valid names that only look alike", token: e.raw(e.hdr(), e.payload("role", `"user","role_":"x","rol":"y","r\u00f4le":"z"`))},
		{name: "payload invalid UTF-8", token: e.raw(e.hdr(), e.payload("sub", "\"a\xffb\"")), want: verify.CheckFormat},
		{name: "payload lone surrogate", token: e.raw(e.hdr(), e.payload("sub", `"\ud83d"`)), want: verify.CheckFormat},
		{name: "payload bad escape", token: e.raw(e.hdr(), e.payload("sub", `"\x41"`)), want: verify.CheckFormat},
		{name: "payload control character", token: e.raw(e.hdr(), e.payload("sub", "\"a\tb\"")), want: verify.CheckFormat},
		{name: "payload leading zero", token: e.raw(e.hdr(), e.payload("n", "012")), want: verify.CheckFormat},
		{name: "payload trailing comma", token: e.raw(e.hdr(), strings.TrimSuffix(e.payload("", ""), "}")+",}"), want: verify.CheckFormat},
		{name: "payload trailing data", token: e.raw(e.hdr(), e.payload("", "")+" x"), want: verify.CheckFormat},
		{name: "payload too deep", token: e.raw(e.hdr(), e.payload("ext", strings.Repeat("[", 40)+strings.Repeat("]", 40))), want: verify.CheckFormat},
		{name: "payload not an object", token: e.raw(e.hdr(), `"iss"`), want: verify.CheckFormat, code: verify.CodeMalformed},
		{name: "signature too long", token: e.key.Sign(c) + strings.Repeat("A", 800), want: verify.CheckFormat},

		{name: "alg none", token: testkit.Unsigned(e.header(), c), want: verify.CheckAlgorithm, value: "none", code: verify.CodeForbiddenAlg},
		{name: "alg None", token: unsignedAlg("None", c, t), want: verify.CheckAlgorithm, value: "None"},
		{name: "alg HS256 with public key", token: testkit.HS256(e.key.PublicPEM(), e.header(), c), want: verify.CheckAlgorithm, value: "HS256", code: verify.CodeForbiddenAlg},
		{name: "alg not in allowlist", token: e.key.Sign(c, map[string]any{"alg": "ES384"}), want: verify.CheckAlgorithm, value: "ES384", code: verify.CodeNotAccepted},
		{name: "alg missing", token: e.key.Sign(c, map[string]any{"alg": nil}), want: verify.CheckAlgorithm, code: verify.CodeMissing},
		{name: "alg differs from key", token: testkit.RS256Key("k1", 0).Sign(c), want: verify.CheckAlgorithm, value: "RS256", code: verify.CodeKeyMismatch},

		{name: "typ JWT (ID token)", token: e.key.Sign(c, map[string]any{"typ": "JWT"}), want: verify.CheckType, value: "JWT"},
		{name: "typ missing", token: e.key.Sign(c, map[string]any{"typ": nil}), want: verify.CheckType, code: verify.CodeMissing},

		{name: "crit", token: e.key.Sign(c, map[string]any{"crit": []string{"exp"}, "exp": 1}), want: verify.CheckCrit, value: "exp", code: verify.CodeNotAccepted},
		{name: "crit empty", token: e.key.Sign(c, map[string]any{"crit": []string{}}), want: verify.CheckCrit},

		{name: "unknown kid", token: stranger.Sign(c), want: verify.CheckKey, value: "stranger", code: verify.CodeUnknownKey},
		{name: "no kid", token: e.key.Sign(c, map[string]any{"kid": nil}), want: verify.CheckKey, code: verify.CodeMissing},

		{name: "tampered payload", token: tamper(e.key.Sign(c), c.With("aud", []string{api, "hr-api"})), want: verify.CheckSignature, code: verify.CodeBadSignature},
		{name: "signed by another key under our kid", token: testkit.ES256Key("other").Sign(c, map[string]any{"kid": "k1"}), want: verify.CheckSignature},
		{name: "signature truncated", token: resign(e.key.Sign(c), func(sig []byte) []byte { return sig[:60] }), want: verify.CheckSignature},
		{name: "signature zero", token: resign(e.key.Sign(c), func(sig []byte) []byte { return make([]byte, 64) }), want: verify.CheckSignature},
		{name: "signature r,s = n", token: resign(e.key.Sign(c), func(sig []byte) []byte { return append(p256N(), p256N()...) }), want: verify.CheckSignature},
		{name: "signature empty", token: e.key.Sign(c)[:strings.LastIndexByte(e.key.Sign(c), '.')+1], want: verify.CheckSignature},

		{name: "iss other", token: e.key.Sign(c.With("iss", "https://evil.example.com")), want: verify.CheckIssuer, value: "https://evil.example.com", code: verify.CodeNotAccepted},
		{name: "iss trailing slash", token: e.key.Sign(c.With("iss", e.iss.URL+"/")), want: verify.CheckIssuer},
		{name: "iss missing", token: e.key.Sign(c.Without("iss")), want: verify.CheckIssuer, code: verify.CodeMissing},
		{name: "iss number", token: e.key.Sign(c.With("iss", 1)), want: verify.CheckIssuer, code: verify.CodeWrongType},

		{name: "aud other API", token: e.key.Sign(c.With("aud", []string{client, "hr-api"})), want: verify.CheckAudience, value: client + " hr-api"},
		{name: "aud differs in case", token: e.key.Sign(c.With("aud", "Order-Status-API")), want: verify.CheckAudience, value: "Order-Status-API"},
		{name: "aud with prefix", token: e.key.Sign(c.With("aud", api+"-v2")), want: verify.CheckAudience},
		{name: "aud missing", token: e.key.Sign(c.Without("aud")), want: verify.CheckAudience, code: verify.CodeMissing},
		{name: "aud number", token: e.key.Sign(c.With("aud", 42)), want: verify.CheckAudience},
		{name: "aud object", token: e.key.Sign(c.With("aud", map[string]any{api: true})), want: verify.CheckAudience, code: verify.CodeWrongType},
		{name: "aud null", token: e.key.Sign(c.With("aud", nil)), want: verify.CheckAudience},
		{name: "aud array with number", token: e.key.Sign(c.With("aud", []any{api, 1})), want: verify.CheckAudience},
		{name: "aud nested array", token: e.key.Sign(c.With("aud", []any{[]string{api}})), want: verify.CheckAudience},
		{name: "aud empty array", token: e.key.Sign(c.With("aud", []string{})), want: verify.CheckAudience},

		{name: "exp passed", token: e.key.Sign(c.With("exp", unix(-time.Minute))), want: verify.CheckExpiry, code: verify.CodeExpired},
		{name: "exp at the leeway edge", token: e.key.Sign(c.With("exp", unix(-30*time.Second))), want: verify.CheckExpiry},
		{name: "exp missing", token: e.key.Sign(c.Without("exp")), want: verify.CheckExpiry, code: verify.CodeMissing},
		{name: "exp string", token: e.key.Sign(c.With("exp", "tomorrow")), want: verify.CheckExpiry, code: verify.CodeWrongType},
		{name: "exp huge", token: e.raw(e.hdr(), e.payload("exp", "1e300")), want: verify.CheckExpiry},

		{name: "nbf future", token: e.key.Sign(c.With("nbf", unix(time.Minute))), want: verify.CheckNotBefore, code: verify.CodeInFuture},
		{name: "nbf string", token: e.key.Sign(c.With("nbf", "now")), want: verify.CheckNotBefore},

		{name: "iat future", token: e.key.Sign(c.With("iat", unix(time.Minute))), want: verify.CheckIssuedAt, code: verify.CodeInFuture},
		{name: "iat null", token: e.key.Sign(c.With("iat", nil)), want: verify.CheckIssuedAt},

		{name: "scope missing one", token: e.key.Sign(c), scopes: []string{"orders:read", "orders:write"}, want: verify.CheckScope, value: "orders:write", code: verify.CodeNotAccepted},
		{name: "scope no claim", token: e.key.Sign(c.Without("scope")), scopes: []string{"orders:read"}, want: verify.CheckScope, value: "orders:read"},
		{name: "scope prefix is not a scope", token: e.key.Sign(c.With("scope", "orders:readall")), scopes: []string{"orders:read"}, want: verify.CheckScope},
		{name: "scope not a string", token: e.key.Sign(c.With("scope", []string{"orders:read"})), scopes: []string{"orders:read"}, want: verify.CheckScope, code: verify.CodeWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := e.v.Verify(context.Background(), tt.token, tt.scopes...)
			ve := wantCheck(t, err, tt.want)
			// Explain runs the same code, so it reaches the same verdict.
			x := e.v.Explain(context.Background(), tt.token, tt.scopes...)
			wantCheck(t, x.Err, tt.want)
			if x.Accepted() != (tt.want == "") {
				t.Errorf("Explain: Accepted() = %v", x.Accepted())
			}
			if tt.want == "" {
				if claims == nil || claims.Issuer != e.iss.URL || !claims.Audience.Contains(api) {
					t.Fatalf("bad claims %+v", claims)
				}
				return
			}
			if claims != nil {
				t.Errorf("claims returned with an error")
			}
			if tt.value != "" && ve.Value != tt.value {
				t.Errorf("Value = %q, want %q", ve.Value, tt.value)
			}
			if ve.Code == "" || tt.code != "" && ve.Code != tt.code {
				t.Errorf("Code = %q, want %q", ve.Code, tt.code)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	e := newEnv(t)
	now := e.iss.Clock.Now()
	c := e.claims().With("ext", "x")
	got, err := e.v.Verify(context.Background(), e.key.Sign(c), "orders:read", "openid")
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != e.iss.URL || got.Subject != "user-1" || got.ClientID != client || got.AZP != client {
		t.Errorf("claims %+v", got)
	}
	if got.Audience.String() != client+" "+api {
		t.Errorf("Audience %q", got.Audience)
	}
	if strings.Join(got.Scopes, ",") != "openid,orders:read" || !got.HasScope("openid") || got.HasScope("orders") {
		t.Errorf("Scopes %q", got.Scopes)
	}
	if !got.Expiry.Equal(now.Add(10*time.Minute)) || !got.IssuedAt.Equal(now) || !got.NotBefore.Equal(now) {
		t.Errorf("times %v %v %v", got.Expiry, got.IssuedAt, got.NotBefore)
	}
	if got.JTI == "" {
		t.Error("no JTI")
	}
	var ext struct {
		Ext string `json:"ext"`
	}
	if err := got.Unmarshal(&ext); err != nil || ext.Ext != "x" {
		t.Errorf("Unmarshal: %v %q", err, ext.Ext)
	}
}

func TestAudienceDescription(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.Audience = "hr-api" })
	tok := e.key.Sign(e.iss.Claims(client, "openid", client, api))
	_, err := e.v.Verify(context.Background(), tok)
	ve := wantCheck(t, err, verify.CheckAudience)
	const want = "The audience 'customer-portal order-status-api' is invalid"
	if got := ve.Description(); got != want {
		t.Errorf("Description() = %q, want %q", got, want)
	}
	if ve.Want != "hr-api" {
		t.Errorf("Want = %q", ve.Want)
	}
}

func TestScopeError(t *testing.T) {
	e := newEnv(t)
	_, err := e.v.Verify(context.Background(), e.key.Sign(e.claims()), "orders:read", "orders:write", "orders:admin")
	ve := wantCheck(t, err, verify.CheckScope)
	if !ve.InsufficientScope() || ve.Value != "orders:write orders:admin" || ve.Want != "orders:read orders:write orders:admin" {
		t.Errorf("scope error %+v", ve)
	}
	if got := ve.Description(); got != "The token lacks the scope 'orders:write orders:admin'" {
		t.Errorf("Description() = %q", got)
	}
}

func TestDescriptionIsHeaderSafe(t *testing.T) {
	e := newEnv(t)
	_, err := e.v.Verify(context.Background(), e.key.Sign(e.claims().With("aud", "a\"b\\c\r\nd é")))
	ve := wantCheck(t, err, verify.CheckAudience)
	if got, want := ve.Description(), "The audience 'a?b?c??d ??' is invalid"; got != want {
		t.Errorf("Description() = %q, want %q", got, want)
	}
}

func TestEveryAlgorithm(t *testing.T) {
	for _, k := range []*testkit.Key{testkit.ES256Key("es"), testkit.EdDSAKey("ed"), testkit.RS256Key("rs", 0)} {
		t.Run(k.Alg, func(t *testing.T) {
			iss := testkit.NewIssuer(t, k)
			v, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api, Clock: iss.Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), iss.Token(client, "s", api), "s"); err != nil {
				t.Fatal(err)
			}
			// Tampering is caught for every algorithm.
			_, err = v.Verify(context.Background(), tamper(iss.Token(client, "s", api), iss.Claims(client, "s admin", api)))
			wantCheck(t, err, verify.CheckSignature)
		})
	}
}

func TestAllowlist(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.Algorithms = []string{"EdDSA"} })
	_, err := e.v.Verify(context.Background(), e.key.Sign(e.claims()))
	ve := wantCheck(t, err, verify.CheckAlgorithm)
	if ve.Value != "ES256" || ve.Want != "EdDSA" {
		t.Errorf("%+v", ve)
	}
}

func TestLegacyTypes(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.Types = []string{"JWT", ""} })
	for _, typ := range []any{"JWT", "application/jwt", nil} {
		if _, err := e.v.Verify(context.Background(), e.key.Sign(e.claims(), map[string]any{"typ": typ})); err != nil {
			t.Errorf("typ %v: %v", typ, err)
		}
	}
	_, err := e.v.Verify(context.Background(), e.key.Sign(e.claims()))
	wantCheck(t, err, verify.CheckType)
}

func TestLeeway(t *testing.T) {
	e := newEnv(t, func(c *verify.Config) { c.Leeway = time.Second })
	_, err := e.v.Verify(context.Background(), e.key.Sign(e.claims().With("exp", e.iss.Clock.Now().Add(-2*time.Second).Unix())))
	wantCheck(t, err, verify.CheckExpiry)
}

// TestInsecureHatches: the two escape hatches an issuer uses on its own
// tokens do exactly what they say and nothing more.
func TestInsecureHatches(t *testing.T) {
	ctx := context.Background()
	anyAud := newEnv(t, func(c *verify.Config) { c.Audience, c.InsecureAnyAudience = "", true })
	c, err := anyAud.v.Verify(ctx, anyAud.key.Sign(anyAud.iss.Claims(client, "openid", "hr-api")))
	if err != nil || c.Audience.String() != "hr-api" {
		t.Errorf("InsecureAnyAudience: %v, %v", c, err)
	}
	_, err = anyAud.v.Verify(ctx, anyAud.raw(anyAud.hdr(), anyAud.payload("aud", "")))
	wantCheck(t, err, verify.CheckAudience) // aud must still be present
	_, err = anyAud.v.Verify(ctx, anyAud.key.Sign(anyAud.claims().With("exp", anyAud.iss.Clock.Now().Add(-time.Hour).Unix())))
	wantCheck(t, err, verify.CheckExpiry) // and exp still counts

	expired := newEnv(t, func(c *verify.Config) { c.InsecureIgnoreExpiry = true })
	if _, err := expired.v.Verify(ctx, expired.key.Sign(expired.claims().With("exp", expired.iss.Clock.Now().Add(-time.Hour).Unix()))); err != nil {
		t.Errorf("InsecureIgnoreExpiry refused an expired token: %v", err)
	}
	_, err = expired.v.Verify(ctx, expired.raw(expired.hdr(), expired.payload("exp", "")))
	wantCheck(t, err, verify.CheckExpiry) // exp must still be present
	_, err = expired.v.Verify(ctx, expired.key.Sign(expired.iss.Claims(client, "openid", "hr-api")))
	wantCheck(t, err, verify.CheckAudience) // and aud still counts
}

func TestConfigErrors(t *testing.T) {
	jwks := testkit.JWKS(testkit.ES256Key("k"))
	tests := []struct {
		name string
		cfg  verify.Config
		want string
	}{
		{"no issuer", verify.Config{Audience: api, StaticJWKS: jwks}, "Issuer is required"},
		{"no audience", verify.Config{Issuer: "https://id", StaticJWKS: jwks}, "Audience is required"},
		{"none", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: jwks, Algorithms: []string{"none"}}, `"none" can never be enabled`},
		{"HS256", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: jwks, Algorithms: []string{"ES256", "HS256"}}, `"HS256" can never be enabled`},
		{"unsupported", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: jwks, Algorithms: []string{"PS512"}}, "not supported"},
		{"negative leeway", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: jwks, Leeway: -time.Second}, "Leeway"},
		{"plain http", verify.Config{Issuer: "http://id.example.com", Audience: api}, "plain http"},
		{"both key sources", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: jwks, JWKSURL: "https://id/jwks"}, "either"},
		{"bad static JWKS", verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: []byte("{")}, "StaticJWKS"},
		{"audience and any audience", verify.Config{Issuer: "https://id", Audience: api, InsecureAnyAudience: true, StaticJWKS: jwks}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := verify.New(context.Background(), verify.Config{Algorithms: []string{"none"}})
	for _, want := range []string{"Issuer", "Audience", "none"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	iss := testkit.NewIssuer(t, testkit.ES256Key("k1"))
	_, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL + "/", Audience: api})
	if err == nil || !strings.Contains(err.Error(), "not") {
		t.Fatalf("err = %v", err)
	}
}

func TestStartWithIssuerDown(t *testing.T) {
	iss := testkit.NewIssuer(t, testkit.ES256Key("k1"))
	iss.SetDown(true)
	if _, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api}); err == nil {
		t.Fatal("New succeeded without keys")
	}
}

func TestJWKSURLAndStatic(t *testing.T) {
	k := testkit.EdDSAKey("ed")
	iss := testkit.NewIssuer(t, k)
	v, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api, JWKSURL: iss.URL + "/jwks", Clock: iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if iss.DiscoveryFetches() != 0 {
		t.Error("discovery used despite JWKSURL")
	}
	if _, err := v.Verify(context.Background(), iss.Token(client, "", api)); err != nil {
		t.Fatal(err)
	}
	sv, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: api, StaticJWKS: testkit.JWKS(k), Clock: iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Verify(context.Background(), iss.Token(client, "", api)); err != nil {
		t.Fatal(err)
	}
	_, err = sv.Verify(context.Background(), testkit.EdDSAKey("other").Sign(iss.Claims(client, "", api)))
	wantCheck(t, err, verify.CheckKey)
}

func TestUnusableKeysSkipped(t *testing.T) {
	good := testkit.ES256Key("good")
	set := `{"keys":[
		{"kty":"EC","crv":"P-256","kid":"enc","use":"enc","x":"` + good.JWK()["x"].(string) + `","y":"` + good.JWK()["y"].(string) + `"},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
		{"kty":"EC","crv":"P-256","kid":"offcurve","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"kty":"EC","crv":"P-256","kid":"lying","alg":"HS256","x":"` + good.JWK()["x"].(string) + `","y":"` + good.JWK()["y"].(string) + `"},
		` + string(mustMarshal(t, good.JWK())) + `]}`
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: []byte(set), Clock: testkit.NewClock(time.Time{}).Now})
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.AccessClaims("https://id", client, testkit.Epoch, "", api)
	if _, err := v.Verify(context.Background(), good.Sign(c)); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"enc", "hmac", "offcurve", "lying"} {
		_, err := v.Verify(context.Background(), good.Sign(c, map[string]any{"kid": kid}))
		wantCheck(t, err, verify.CheckKey)
	}
	_, err = v.Verify(context.Background(), testkit.HS256([]byte("secret"), map[string]any{"kid": "hmac", "typ": "at+jwt"}, c))
	wantCheck(t, err, verify.CheckAlgorithm)
}

// --- helpers ---

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b := testkit.JSON(v)
	return string(b)
}

// tamper replaces the payload of token with claims, keeping the signature.
func tamper(token string, claims testkit.Claims) string {
	parts := strings.Split(token, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(testkit.JSON(claims))
	return strings.Join(parts, ".")
}

// nonCanonical changes the last base64 character of the header so that it
// decodes to the same bytes through a lenient decoder but has non-zero
// unused bits.
func nonCanonical(token string) string {
	h, rest, _ := strings.Cut(token, ".")
	if len(h)%4 == 0 {
		panic("header length leaves no unused bits")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, h[len(h)-1])
	return h[:len(h)-1] + string(alphabet[last|1]) + "." + rest
}

// resign replaces the signature of token by f(signature).
func resign(token string, f func([]byte) []byte) string {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		panic(err)
	}
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(f(sig))
}

func p256N() []byte { return elliptic.P256().Params().N.Bytes() }

func unsignedAlg(alg string, c testkit.Claims, t *testing.T) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"k1","typ":"at+jwt"}`))
	return h + "." + base64.RawURLEncoding.EncodeToString([]byte(mustMarshal(t, c))) + "."
}

// manyMembers adds n members to the payload object (the first one again
// when dup), past the parser's small-array duplicate detection.
func manyMembers(payload string, n int, dup bool) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(payload, "}"))
	for i := 0; i < n; i++ {
		b.WriteString(`,"m` + strings.Repeat("x", i) + `":1`)
	}
	if dup {
		b.WriteString(`,"mxxxxx":2`)
	}
	b.WriteString("}")
	return b.String()
}

// TestSameKidTwoAlgorithms: a JWK Set may hold one kid for keys of
// different algorithms; the token's alg picks among them, never across.
func TestSameKidTwoAlgorithms(t *testing.T) {
	es, rs := testkit.ES256Key("dup"), testkit.RS256Key("dup", 0)
	v, err := verify.New(context.Background(), verify.Config{Issuer: "https://id", Audience: api, StaticJWKS: testkit.JWKS(es, rs), Clock: testkit.NewClock(time.Time{}).Now})
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.AccessClaims("https://id", client, testkit.Epoch, "", api)
	for _, k := range []*testkit.Key{es, rs} {
		if _, err := v.Verify(context.Background(), k.Sign(c)); err != nil {
			t.Errorf("%s: %v", k.Alg, err)
		}
	}
	// An RSA signature under a header claiming ES256 is checked with the EC
	// key and fails.
	_, err = v.Verify(context.Background(), rs.Sign(c, map[string]any{"alg": "ES256"}))
	wantCheck(t, err, verify.CheckSignature)
}
