package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/connector/upstream"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// op is a provider that signs whatever ID token the test asks for: the
// hostile answers a real provider never gives (the success path runs
// against a real Gatehouse in internal/server's tests).
type op struct {
	srv  *httptest.Server
	key  *testkit.Key
	mu   sync.Mutex
	down bool
	// idToken makes the token response's ID token from the request form.
	idToken  func(form url.Values) string
	issParam bool
	userinfo map[string]any
	big      bool
}

func newOP(t *testing.T) *op {
	o := &op{key: testkit.ES256Key("op-1")}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		u := o.srv.URL
		doc := map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "userinfo_endpoint": u + "/userinfo", "id_token_signing_alg_values_supported": []string{"ES256"},
			"authorization_response_iss_parameter_supported": o.issParam}
		if o.big {
			doc["padding"] = strings.Repeat("x", 2<<20)
		}
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) { w.Write(testkit.JWKS(o.key)) })
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 60, "id_token": o.idToken(r.PostForm)})
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(o.userinfo)
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

// claims are a good ID token's for client gh and nonce n.
func (o *op) claims() testkit.Claims {
	now := time.Now()
	return testkit.Claims{"iss": o.srv.URL, "sub": "u-42", "aud": "gh", "nonce": "n", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"preferred_username": "ann", "email": "ann@corp.example", "email_verified": "true", "roles": []string{"hr", "ops"}, "amr": []string{"pwd", "mfa"}}
}

func provider(t *testing.T, o *op, change func(*upstream.Options)) *upstream.Provider {
	t.Helper()
	opts := upstream.Options{Issuer: o.srv.URL, ClientID: "gh", ClientSecret: "s", RedirectURL: "http://127.0.0.1/cb",
		Claims: upstream.ClaimNames{Groups: "roles"}}
	if change != nil {
		change(&opts)
	}
	p, err := upstream.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExchangeRefusals (issue 12): each ID token a provider must never be
// trusted with is refused, with a reason that names the check.
func TestExchangeRefusals(t *testing.T) {
	o := newOP(t)
	p := provider(t, o, nil)
	other := testkit.ES256Key("intruder")
	for _, tc := range []struct {
		name, want string
		token      func() string
	}{
		{"wrong nonce", "nonce", func() string { return o.key.Sign(o.claims().With("nonce", "other")) }},
		{"no nonce", "nonce", func() string { return o.key.Sign(o.claims().Without("nonce")) }},
		{"another client", "another client", func() string { return o.key.Sign(o.claims().With("aud", "someone-else")) }},
		{"another issuer", "another issuer", func() string { return o.key.Sign(o.claims().With("iss", "https://evil.example")) }},
		{"expired", "expired", func() string { return o.key.Sign(o.claims().With("exp", time.Now().Add(-time.Hour).Unix())) }},
		{"unknown key", "signature", func() string { return other.Sign(o.claims()) }},
		{"alg none", "", func() string { return testkit.Unsigned(map[string]any{"alg": "none"}, o.claims()) }},
		{"HS256", "", func() string { return testkit.HS256([]byte("s"), map[string]any{"alg": "HS256"}, o.claims()) }},
		{"no sub", "sub", func() string { return o.key.Sign(o.claims().Without("sub")) }},
		{"at_hash mismatch", "at_hash", func() string { return o.key.Sign(o.claims().With("at_hash", "AAAAAAAAAAAAAAAAAAAAAA")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o.idToken = func(url.Values) string { return tc.token() }
			id, err := p.Exchange(context.Background(), "code-1", "verifier-verifier-verifier-verifier-verifier", "n")
			var ve *upstream.VerifyError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %+v, %v; want a VerifyError about %q", id, err, tc.want)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("the error carries a token: %v", err)
			}
		})
	}
}

// TestExchangeMapsClaims: claim names are configurable, groups and amr
// are lists, email_verified may be the string "true", UserInfo adds what
// the ID token lacks and must name the same subject.
func TestExchangeMapsClaims(t *testing.T) {
	o := newOP(t)
	o.idToken = func(url.Values) string { return o.key.Sign(o.claims()) }
	o.userinfo = map[string]any{"sub": "u-42", "name": "Ann Upstream"}
	p := provider(t, o, func(opt *upstream.Options) { opt.UserInfo = true })
	id, err := p.Exchange(context.Background(), "code-1", "verifier-verifier-verifier-verifier-verifier", "n")
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "u-42" || id.Username != "ann" || !id.EmailVerified || id.Name != "Ann Upstream" ||
		strings.Join(id.Groups, ",") != "hr,ops" || strings.Join(id.AMR, ",") != "pwd,mfa" {
		t.Errorf("identity %+v", id)
	}
	o.userinfo = map[string]any{"sub": "someone-else"}
	if _, err := p.Exchange(context.Background(), "code-1", "verifier-verifier-verifier-verifier-verifier", "n"); err == nil {
		t.Error("UserInfo of another subject accepted")
	}
}

// TestCallback: state, the provider's error response and RFC 9207 iss.
func TestCallback(t *testing.T) {
	o := newOP(t)
	o.issParam = true
	p := provider(t, o, nil)
	ok := url.Values{"code": {"c"}, "state": {"st"}, "iss": {o.srv.URL}}
	if code, err := p.Callback(ok, "st"); err != nil || code != "c" {
		t.Fatalf("good callback: %q %v", code, err)
	}
	for name, q := range map[string]url.Values{
		"wrong state": {"code": {"c"}, "state": {"other"}, "iss": {o.srv.URL}},
		"no state":    {"code": {"c"}, "iss": {o.srv.URL}},
		"two states":  {"code": {"c"}, "state": {"st", "st"}, "iss": {o.srv.URL}},
		"no iss":      {"code": {"c"}, "state": {"st"}},
		"another iss": {"code": {"c"}, "state": {"st"}, "iss": {"https://evil.example"}},
		"no code":     {"state": {"st"}, "iss": {o.srv.URL}},
	} {
		if _, err := p.Callback(q, "st"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := p.Callback(url.Values{"error": {"access_denied"}, "error_description": {"no\x07"}, "state": {"st"}, "iss": {o.srv.URL}}, "st")
	var ue *upstream.UpstreamError
	if !errors.As(err, &ue) || ue.Code != "access_denied" || ue.Description != "no" {
		t.Errorf("error response: %v", err)
	}
}

// TestDiscoveryLazyAndRetried: a provider that is down at first use is
// unavailable, and used once it is up; nothing is contacted before.
func TestDiscoveryLazyAndRetried(t *testing.T) {
	o := newOP(t)
	o.down = true
	now := time.Now()
	p := provider(t, o, func(opt *upstream.Options) { opt.Now = func() time.Time { return now } })
	if _, err := p.AuthURL(context.Background(), "st", "n", "v", nil); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	o.mu.Lock()
	o.down = false
	o.mu.Unlock()
	if _, err := p.AuthURL(context.Background(), "st", "n", "v", nil); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("within the retry pause: %v", err)
	}
	now = now.Add(10 * time.Second)
	u, err := p.AuthURL(context.Background(), "st", "n", "verifier", url.Values{"prompt": {"none"}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(u)
	v := q.Query()
	if v.Get("code_challenge") != upstream.S256("verifier") || v.Get("code_challenge_method") != "S256" || v.Get("nonce") != "n" ||
		v.Get("state") != "st" || v.Get("prompt") != "none" || !strings.Contains(v.Get("scope"), "openid") {
		t.Errorf("authorization URL %s", u)
	}
}

// TestResponseLimit: a discovery document over 1 MiB is refused.
func TestResponseLimit(t *testing.T) {
	o := newOP(t)
	o.big = true
	if _, err := provider(t, o, nil).AuthURL(context.Background(), "st", "n", "v", nil); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("2 MiB discovery: %v", err)
	}
}
