package httpauth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

const (
	api    = "order-status-api"
	client = "customer-portal"
)

// env is an issuer, a real verifier for api on the issuer's clock, and
// middleware in front of a handler that counts the requests reaching it.
type env struct {
	iss  *testkit.Issuer
	key  *testkit.Key
	v    *verify.Verifier
	m    *httpauth.Middleware
	hits atomic.Int64
}

func newEnv(t *testing.T, audience string, opts ...httpauth.Option) *env {
	t.Helper()
	k := testkit.ES256Key("k1")
	iss := testkit.NewIssuer(t, k)
	v, err := verify.New(context.Background(), verify.Config{Issuer: iss.URL, Audience: audience, Clock: iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]httpauth.Option{httpauth.WithRealm(audience)}, opts...)
	return &env{iss: iss, key: k, v: v, m: httpauth.New(v, opts...)}
}

// next is the protected handler: it counts, and echoes the subject it
// finds in the context.
func (e *env) next() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		c, ok := httpauth.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims in context", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, c.Subject+" "+c.ClientID)
	})
}

// token is a customer-portal token for the portal and the order API.
func (e *env) token(scope string) string {
	return e.iss.Token(client, scope, client, api)
}

// do sends a request with the given Authorization header values (none when
// empty) through h.
func do(h http.Handler, auth ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/orders/42", nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestChallenges pins the exact WWW-Authenticate values of RFC 6750 §3
// for each kind of refusal: these strings are the contract with clients.
func TestChallenges(t *testing.T) {
	orders := newEnv(t, api)
	// The HR API trusts the same issuer under its own audience.
	hrV, err := verify.New(context.Background(), verify.Config{Issuer: orders.iss.URL, Audience: "hr-api", Clock: orders.iss.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hr := httpauth.New(hrV, httpauth.WithRealm("hr-api"))
	now := orders.iss.Clock.Now()

	cases := []struct {
		name      string
		h         http.Handler
		auth      []string
		status    int
		challenge string
	}{
		{"no token", orders.m.Handler(orders.next()), nil, 401,
			`Bearer realm="order-status-api"`},
		{"another scheme", orders.m.Handler(orders.next()), []string{"Basic Y3VzdG9tZXItcG9ydGFsOnNlY3JldA=="}, 401,
			`Bearer realm="order-status-api"`},
		{"audience of another API", hr.Handler(orders.next()), []string{"Bearer " + orders.token("openid orders:read")}, 401,
			`Bearer realm="hr-api", error="invalid_token", error_description="The audience 'customer-portal order-status-api' is invalid"`},
		{"expired", orders.m.Handler(orders.next()), []string{"Bearer " + orders.key.Sign(orders.iss.Claims(client, "", api).With("exp", now.Add(-time.Hour).Unix()))}, 401,
			`Bearer realm="order-status-api", error="invalid_token", error_description="The token is expired"`},
		{"insufficient scope", orders.m.Require("orders:read", "orders:write")(orders.next()), []string{"Bearer " + orders.token("openid orders:read")}, 403,
			`Bearer realm="order-status-api", error="insufficient_scope", error_description="The token lacks the scope 'orders:write'", scope="orders:read orders:write"`},
		{"two Authorization headers", orders.m.Handler(orders.next()), []string{"Bearer " + orders.token(""), "Bearer " + orders.token("")}, 400,
			`Bearer realm="order-status-api", error="invalid_request", error_description="The request has more than one Authorization header"`},
		{"malformed header", orders.m.Handler(orders.next()), []string{"Bearer a b"}, 400,
			`Bearer realm="order-status-api", error="invalid_request", error_description="The Authorization header is malformed; send exactly one 'Authorization: Bearer <token>'"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(c.h, c.auth...)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if got := w.Header().Values("WWW-Authenticate"); len(got) != 1 || got[0] != c.challenge {
				t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, c.challenge)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if orders.hits.Load() != 0 {
		t.Errorf("a refused request reached the handler")
	}
}

// TestErrorBody pins the JSON body that repeats the challenge.
func TestErrorBody(t *testing.T) {
	e := newEnv(t, api)
	for _, c := range []struct {
		name, auth, want string
		scopes           []string
	}{
		{"no token", "", `{"error_description":"A bearer token is required in the Authorization header"}`, nil},
		{"invalid token", "Bearer x.y.z", `{"error":"invalid_token","error_description":"The token is malformed: the header is not unpadded base64url"}`, nil},
		{"scope", "Bearer " + e.token("openid"), `{"error":"insufficient_scope","error_description":"The token lacks the scope 'orders:read'","scope":"orders:read"}`, []string{"orders:read"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var auth []string
			if c.auth != "" {
				auth = []string{c.auth}
			}
			w := do(e.m.Require(c.scopes...)(e.next()), auth...)
			if body := w.Body.String(); body != c.want+"\n" {
				t.Errorf("body\n got %s\nwant %s", body, c.want)
			}
		})
	}
}

// TestMalformedHeaders: anything that is not exactly one
// "Bearer 1*SP b64token" header with the Bearer scheme is invalid_request
// (RFC 6750 §2.1, §3.1), and the handler is never reached.
func TestMalformedHeaders(t *testing.T) {
	e := newEnv(t, api)
	tok := e.token("openid orders:read")
	junk := make([]byte, 64)
	rand.Read(junk)
	cases := []struct {
		name string
		auth []string
	}{
		{"empty value", []string{""}},
		{"scheme only", []string{"Bearer"}},
		{"scheme only, lower case", []string{"bearer"}},
		{"tab separator", []string{"Bearer\t" + tok}},
		{"leading space", []string{" Bearer " + tok}},
		{"two tokens", []string{"Bearer " + tok + " " + tok}},
		{"trailing part", []string{"Bearer " + tok + " extra"}},
		{"comma-joined credentials", []string{"Bearer " + tok + ", Bearer " + tok}},
		{"quoted token", []string{`Bearer "` + tok + `"`}},
		{"padding in the middle", []string{"Bearer abc=def"}},
		{"only padding", []string{"Bearer ==="}},
		{"CRLF in token", []string{"Bearer abc\r\nX-Injected: 1"}},
		{"NUL in token", []string{"Bearer abc\x00def"}},
		{"non-ASCII token", []string{"Bearer jéton"}},
		{"raw random bytes", []string{"Bearer " + string(junk)}},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}},
		{"Bearer and Basic headers", []string{"Basic Y3VzdG9tZXI6cw==", "Bearer " + tok}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(e.m.Handler(e.next()), c.auth...)
			if w.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400", w.Code)
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.Contains(ch, `error="invalid_request"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			if strings.ContainsAny(ch, "\r\n\x00") {
				t.Errorf("control characters in %q", ch)
			}
		})
	}
	if n := e.hits.Load(); n != 0 {
		t.Errorf("handler reached %d times", n)
	}
}

// TestAccepted: the scheme is case-insensitive and RFC 6750's 1*SP allows
// several spaces; the handler gets the claims.
func TestAccepted(t *testing.T) {
	e := newEnv(t, api)
	tok := e.token("openid orders:read")
	for _, auth := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "bEaReR " + tok, "Bearer   " + tok} {
		w := do(e.m.Require("orders:read")(e.next()), auth)
		if w.Code != 200 || w.Body.String() != "user-1 customer-portal" {
			t.Errorf("%.20q: %d %s", auth, w.Code, w.Body)
		}
	}
	if n := e.hits.Load(); n != 5 {
		t.Errorf("handler reached %d times, want 5", n)
	}
}

// TestOtherSchemes: a request authenticating with another scheme lacks a
// bearer token: a bare challenge, no error code (RFC 6750 §3).
func TestOtherSchemes(t *testing.T) {
	e := newEnv(t, api)
	for _, auth := range []string{"Basic Y3VzdG9tZXI6cw==", "Negotiate abc", "Bearerx abc", "DPoP " + e.token(""), "Token abc def"} {
		w := do(e.m.Handler(e.next()), auth)
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="order-status-api"` {
			t.Errorf("%.20q: %d %q", auth, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestTokenOnlyFromHeader: tokens in the query string (RFC 6750 §2.3) or a
// form body (§2.2) are not looked at, and the body is not consumed.
func TestTokenOnlyFromHeader(t *testing.T) {
	e := newEnv(t, api)
	tok := e.token("openid orders:read")
	h := e.m.Handler(e.next())

	r := httptest.NewRequest("GET", "/orders?access_token="+tok, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="order-status-api"` {
		t.Errorf("query token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}

	body := &countingReader{r: strings.NewReader("access_token=" + tok)}
	r = httptest.NewRequest("POST", "/orders", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Errorf("form token: %d", w.Code)
	}
	if body.n != 0 {
		t.Errorf("the middleware read %d bytes of the body", body.n)
	}
	if e.hits.Load() != 0 {
		t.Error("handler reached")
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestDecisionHook: one call per request, with claims when allowed and a
// reason naming the check when refused, never the token.
func TestDecisionHook(t *testing.T) {
	var got []httpauth.Decision
	e := newEnv(t, api, httpauth.WithDecisionHook(func(r *http.Request, d httpauth.Decision) {
		got = append(got, d)
	}))
	h := e.m.Require("orders:read")(e.next())
	good := e.token("openid orders:read")
	other := e.key.Sign(e.iss.Claims(client, "orders:read", client, "hr-api"))
	do(h, "Bearer "+good)
	do(h, "Bearer "+other)
	do(h, "Bearer "+e.token("openid"))
	do(h)
	do(h, "Bearer a b")
	if len(got) != 5 {
		t.Fatalf("%d decisions, want 5", len(got))
	}
	if !got[0].Allowed || got[0].Claims == nil || got[0].Claims.Subject != "user-1" || got[0].Err != nil || got[0].Reason() != "" {
		t.Errorf("allowed decision: %+v", got[0])
	}
	want := []string{
		"aud: ",
		"scope: the token lacks the required scope(s) orders:read",
		"no bearer token in the Authorization header",
		"the bearer token is not a b64token (RFC 6750 §2.1)",
	}
	for i, d := range got[1:] {
		if d.Allowed || d.Claims != nil || d.Err == nil {
			t.Errorf("decision %d: %+v", i+1, d)
			continue
		}
		if !strings.HasPrefix(d.Reason(), want[i]) {
			t.Errorf("decision %d reason %q, want prefix %q", i+1, d.Reason(), want[i])
		}
		for _, tok := range []string{good, other} {
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if strings.Contains(d.Reason(), sig) || strings.Contains(d.Err.Error(), sig) {
				t.Errorf("decision %d leaks the token", i+1)
			}
		}
	}
	var ve *verify.Error
	if !errors.As(got[1].Err, &ve) || !errors.Is(got[1].Err, verify.CheckAudience) {
		t.Errorf("the refusal does not unwrap to the verify error: %v", got[1].Err)
	}
}

// fakeVerifier returns a fixed result: for the header-injection cases a
// real token cannot produce, and to break the Verifier contract.
type fakeVerifier struct {
	claims *verify.Claims
	err    error
	aud    string
}

func (f fakeVerifier) Verify(context.Context, string, ...string) (*verify.Claims, error) {
	return f.claims, f.err
}

type audienceVerifier struct{ fakeVerifier }

func (a audienceVerifier) Audience() string { return a.aud }

// TestNoHeaderInjection: realm, description and scope cannot close their
// quoted-string or start a header line, whatever a configuration or a
// token puts in them.
func TestNoHeaderInjection(t *testing.T) {
	evil := "x\", error=\"none\r\nSet-Cookie: a=b\\"
	cases := []struct {
		name string
		m    *httpauth.Middleware
		want string
	}{
		{"realm", httpauth.New(fakeVerifier{}, httpauth.WithRealm(evil)),
			`Bearer realm="x\", error=\"none??Set-Cookie: a=b\\"`},
		{"description", httpauth.New(fakeVerifier{err: &verify.Error{Check: "custom", Reason: evil}}, httpauth.WithRealm("r")),
			`Bearer realm="r", error="invalid_token", error_description="x?, error=?none??Set-Cookie: a=b?"`},
		{"scope", httpauth.New(fakeVerifier{err: &verify.Error{Check: verify.CheckScope, Value: "a", Want: evil}}, httpauth.WithRealm("r")),
			`Bearer realm="r", error="insufficient_scope", error_description="The token lacks the scope 'a'", scope="x?, error=?none??Set-Cookie: a=b?"`},
		{"non-verify error", httpauth.New(fakeVerifier{err: errors.New(evil)}, httpauth.WithRealm("r")),
			`Bearer realm="r", error="invalid_token", error_description="The access token is invalid"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := []string{"Bearer abc"}
			if c.name == "realm" {
				auth = nil
			}
			w := do(c.m.Handler(http.NotFoundHandler()), auth...)
			if got := w.Header().Get("WWW-Authenticate"); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
			if len(w.Header()["Set-Cookie"]) != 0 {
				t.Error("injected header")
			}
		})
	}
}

// TestRealmDefault: without WithRealm the realm is the verifier's
// Audience() when it has one, and absent otherwise.
func TestRealmDefault(t *testing.T) {
	fail := &verify.Error{Check: verify.CheckExpiry, Value: "x"}
	with := httpauth.New(audienceVerifier{fakeVerifier{err: fail, aud: "hr-api"}})
	without := httpauth.New(fakeVerifier{err: fail})
	for _, c := range []struct {
		m          *httpauth.Middleware
		auth, want string
	}{
		{with, "", `Bearer realm="hr-api"`},
		{with, "Bearer abc", `Bearer realm="hr-api", error="invalid_token", error_description="The token is expired"`},
		{without, "", `Bearer`},
		{without, "Bearer abc", `Bearer error="invalid_token", error_description="The token is expired"`},
	} {
		var auth []string
		if c.auth != "" {
			auth = append(auth, c.auth)
		}
		if got := do(c.m.Handler(http.NotFoundHandler()), auth...).Header().Get("WWW-Authenticate"); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if with.Realm() != "hr-api" || without.Realm() != "" {
		t.Errorf("Realm() = %q, %q", with.Realm(), without.Realm())
	}
}

// TestVerifierContract: a verifier returning neither claims nor an error
// does not let the request through.
func TestVerifierContract(t *testing.T) {
	m := httpauth.New(fakeVerifier{})
	reached := false
	w := do(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })), "Bearer abc")
	if reached || w.Code != 401 {
		t.Errorf("reached=%v status=%d", reached, w.Code)
	}
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("New(nil)", func() { httpauth.New(nil) })
	m := httpauth.New(fakeVerifier{})
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "a\nb", "é"} {
		mustPanic("Require("+s+")", func() { m.Require("ok", s) })
	}
}

// TestRequireCopiesScopes: changing the caller's slice afterwards does not
// change the route's requirement.
func TestRequireCopiesScopes(t *testing.T) {
	e := newEnv(t, api)
	scopes := []string{"orders:read"}
	h := e.m.Require(scopes...)(e.next())
	scopes[0] = "openid"
	if w := do(h, "Bearer "+e.token("openid")); w.Code != 403 {
		t.Errorf("status %d, want 403", w.Code)
	}
}

func TestNewContext(t *testing.T) {
	if _, ok := httpauth.ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
	if _, ok := httpauth.ClaimsFromContext(httpauth.NewContext(context.Background(), nil)); ok {
		t.Error("nil claims reported as present")
	}
	c := &verify.Claims{Subject: "s"}
	if got, ok := httpauth.ClaimsFromContext(httpauth.NewContext(context.Background(), c)); !ok || got != c {
		t.Error("claims lost")
	}
}

// TestErrorString: Error() names status, code and reason, never the token.
func TestErrorString(t *testing.T) {
	e := newEnv(t, api)
	tok := e.key.Sign(e.iss.Claims(client, "", "hr-api"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	_, err := e.m.Authenticate(r)
	if err == nil {
		t.Fatal("accepted")
	}
	if s := err.Error(); !strings.HasPrefix(s, "httpauth: 401 invalid_token: aud: ") || strings.Contains(s, tok) {
		t.Errorf("Error() = %q", s)
	}
	long := &httpauth.Error{Err: errors.New(strings.Repeat("é", 400) + "\n")}
	if s := long.Reason(); len(s) > 310 || strings.Contains(s, "\n") {
		t.Errorf("Reason not bounded: %d bytes", len(s))
	}
}
