package proxy_test

import (
	"bufio"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// The attack battery of issue 3 runs here against both the httpauth
// middleware and the proxy (this package imports both; httpauth cannot
// import the proxy), each called directly and behind a real http.Server.
// Every attack must be refused and never reach the protected handler or
// the upstream, no URL named by a token may be fetched, and afterwards a
// valid token must still be accepted (nothing was cached from an attack).

type attack struct {
	name  string
	token string
	// raw is true for bytes that are not a b64token: RFC 6750 §3.1 makes
	// that a malformed request (400 invalid_request), and a Go client
	// cannot even send some of them.
	raw bool
	// huge is true for the 1 MiB token: through an http.Server with the
	// default MaxHeaderBytes (1 MiB) it is 431 before any handler runs;
	// called directly it is 401 from verify's size check.
	huge bool
}

func attacks(t *testing.T, e *env, trapURL string) []attack {
	c := e.iss.Claims(client, "openid orders:read", client, api)
	now := e.iss.Clock.Now()
	attacker := testkit.ES256Key("attacker")
	other := testkit.NewIssuer(t, testkit.ES256Key("other-instance"))
	otherSameKid := testkit.ES256Key("other-instance")
	otherSameKid.KID = e.key.KID

	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: e.iss.URL},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attacker.Public(), attacker.Signer)
	if err != nil {
		t.Fatal(err)
	}
	x5c := []string{base64.StdEncoding.EncodeToString(der)}

	random := make([]byte, 600)
	rand.Read(random)
	b64 := base64.RawURLEncoding.EncodeToString
	hdr := `{"alg":"ES256","kid":"` + e.key.KID + `","typ":"at+jwt"}`
	payload := string(testkit.JSON(c))
	tampered := strings.Split(e.key.Sign(c), ".")
	tampered[1] = b64(testkit.JSON(c.With("scope", "openid orders:read orders:admin")))

	return []attack{
		{name: "alg none", token: testkit.Unsigned(e.key.Header(), c)},
		{name: "HS256 keyed with the public key PEM", token: testkit.HS256(e.key.PublicPEM(), e.key.Header(), c)},
		{name: "HS256 keyed with the raw public key", token: testkit.HS256(e.key.PublicRaw(), e.key.Header(), c)},
		{name: "embedded jwk", token: attacker.Sign(c, map[string]any{"jwk": attacker.JWK()})},
		{name: "embedded jwk with the issuer's kid", token: attacker.Sign(c, map[string]any{"jwk": attacker.JWK(), "kid": e.key.KID})},
		{name: "jku", token: attacker.Sign(c, map[string]any{"jku": trapURL + "/jwks"})},
		{name: "jku with the issuer's kid", token: attacker.Sign(c, map[string]any{"jku": trapURL + "/jwks", "kid": e.key.KID})},
		{name: "x5u", token: attacker.Sign(c, map[string]any{"x5u": trapURL + "/cert"})},
		{name: "x5c self-signed", token: attacker.Sign(c, map[string]any{"x5c": x5c})},
		{name: "x5c with the issuer's kid", token: attacker.Sign(c, map[string]any{"x5c": x5c, "kid": e.key.KID})},
		{name: "unknown kid", token: testkit.ES256Key("nope").Sign(c)},
		{name: "payload tampered after signing", token: strings.Join(tampered, ".")},
		{name: "expired", token: e.key.Sign(c.With("exp", now.Add(-time.Hour).Unix()))},
		{name: "not yet valid", token: e.key.Sign(c.With("nbf", now.Add(time.Hour).Unix()))},
		{name: "wrong issuer", token: e.key.Sign(c.With("iss", "https://evil.example.com"))},
		{name: "audience of another API", token: e.key.Sign(c.With("aud", []string{client, "hr-api"}))},
		{name: "audience differing in case", token: e.key.Sign(c.With("aud", strings.ToUpper(api)))},
		{name: "missing aud", token: e.key.Sign(c.Without("aud"))},
		{name: "aud number", token: e.key.Sign(c.With("aud", 42))},
		{name: "aud object", token: e.key.Sign(c.With("aud", map[string]string{"id": api}))},
		{name: "ID token as access token", token: e.key.Sign(c.With("aud", client).With("nonce", "n").Without("scope"), map[string]any{"typ": "JWT"})},
		{name: "ID token for the API, typ JWT", token: e.key.Sign(c.With("nonce", "n"), map[string]any{"typ": "JWT"})},
		{name: "refresh-token-shaped garbage", token: b64(random[:32])},
		{name: "token from another instance (its own kid)", token: other.Token(client, "openid orders:read", client, api)},
		{name: "token from another instance (same kid)", token: otherSameKid.Sign(other.Claims(client, "openid orders:read", client, api))},
		{name: "duplicated aud member", token: e.key.SignRaw([]byte(hdr), []byte(strings.TrimSuffix(string(testkit.JSON(c.Without("aud"))), "}")+`,"aud":"hr-api","aud":"`+api+`"}`))},
		{name: "duplicated alg member", token: e.key.SignRaw([]byte(`{"alg":"ES256","kid":"`+e.key.KID+`","typ":"at+jwt","alg":"none"}`), []byte(payload))},
		{name: "unknown crit", token: e.key.Sign(c, map[string]any{"crit": []string{"urn:x:critical"}, "urn:x:critical": true})},
		{name: "1 MiB token", token: e.key.Sign(c.With("pad", strings.Repeat("A", 1<<20))), huge: true},
		{name: "random bytes, b64token-shaped", token: b64(random[:100]) + "." + b64(random[100:300]) + "." + b64(random[300:])},
		{name: "random bytes, raw", token: string(random), raw: true},
	}
}

// target is one thing the battery attacks, with the counter of requests
// that got through it.
type target struct {
	name string
	// send returns the status for a request with Authorization: Bearer tok.
	send   func(t *testing.T, tok string) int
	hits   func() int64
	server bool
}

func TestAttackBattery(t *testing.T) {
	e := newEnv(t)
	trap := testkit.NewTrap(t, testkit.JWKS(testkit.ES256Key("attacker")))
	list := attacks(t, e, trap.URL)
	jwksBefore := e.iss.JWKSFetches()

	var mwHits atomic.Int64
	mw := httpauth.New(e.v, httpauth.WithRealm(api)).Require("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mwHits.Add(1)
	}))
	mwSrv := httptest.NewServer(mw)
	defer mwSrv.Close()
	proxySrv := httptest.NewServer(e.h)
	defer proxySrv.Close()

	direct := func(h http.Handler) func(*testing.T, string) int {
		return func(t *testing.T, tok string) int {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, get("/orders/42", tok))
			return w.Code
		}
	}
	targets := []target{
		{name: "middleware", send: direct(mw), hits: mwHits.Load},
		{name: "middleware behind http.Server", send: overHTTP(mwSrv), hits: mwHits.Load, server: true},
		{name: "proxy", send: direct(e.h), hits: e.up.hits.Load},
		{name: "proxy behind http.Server", send: overHTTP(proxySrv), hits: e.up.hits.Load, server: true},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			for _, a := range list {
				t.Run(a.name, func(t *testing.T) {
					status := tg.send(t, a.token)
					switch {
					case a.raw && status == http.StatusBadRequest:
					case a.huge && tg.server && status == http.StatusRequestHeaderFieldsTooLarge:
					case status == http.StatusUnauthorized && !a.raw:
					default:
						t.Errorf("status %d", status)
					}
					if n := tg.hits(); n != 0 {
						t.Fatalf("the attack got through: %d requests reached the protected side", n)
					}
				})
			}
			// No poisoned state: a valid token still works.
			if status := tg.send(t, e.token("openid orders:read")); status != http.StatusOK {
				t.Errorf("valid token after the battery: %d", status)
			}
			if n := tg.hits(); n != 1 {
				t.Errorf("%d requests reached the protected side, want 1", n)
			}
			mwHits.Store(0)
			e.up.hits.Store(0)
		})
	}
	if n := trap.Hits(); n != 0 {
		t.Errorf("a URL from a token header was fetched %d times", n)
	}
	if n := e.iss.JWKSFetches() - jwksBefore; n > 1 {
		t.Errorf("JWKS fetched %d times during the battery; unknown kids may cause at most one refresh", n)
	}
}

// overHTTP sends the request through a real connection. Tokens a Go client
// refuses to put in a header (controls, CR, LF) go over a raw connection,
// as an attacker's client would send them.
func overHTTP(srv *httptest.Server) func(*testing.T, string) int {
	return func(t *testing.T, tok string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/orders/42", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
		return rawRequest(t, srv.Listener.Addr().String(), tok)
	}
}

func rawRequest(t *testing.T, addr, tok string) int {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// CR and LF would end the header line, which is a different attack
	// (request splitting) with its own defences in net/http.
	tok = strings.NewReplacer("\r", "", "\n", "").Replace(tok)
	fmt.Fprintf(conn, "GET /orders/42 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", tok)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
