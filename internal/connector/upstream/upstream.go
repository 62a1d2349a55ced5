// Package upstream is the protocol half of signing people in through an
// upstream OpenID Connect provider: the authorization request (code flow
// with PKCE S256, state and nonce), the callback's checks (the provider's
// error response, RFC 9207 iss), the code's redemption and the ID token's
// verification with github.com/coreos/go-oidc/v3 (issuer, audience,
// signature against the provider's JWKS, expiry, nonce), and the mapping of
// the provider's claims to a connector.Identity. Cookies, pages and where
// the state waits are internal/server's.
//
// Nothing is contacted until first use: discovery happens then, is kept,
// and a failed discovery is tried again later, so Gatehouse starts while
// a provider is down.
package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/connector"
)

// ClaimNames are the provider's claim names each piece of a person is
// read from; an empty name keeps the default.
type ClaimNames struct {
	Subject       string // default sub
	Username      string // default preferred_username
	Email         string // default email
	EmailVerified string // default email_verified
	Name          string // default name
	Groups        string // default groups
}

// Options configure a Provider.
type Options struct {
	// Issuer is the provider's issuer identifier; discovery is at
	// Issuer + /.well-known/openid-configuration and must name it exactly.
	Issuer string
	// ClientID and ClientSecret are Gatehouse's client at the provider;
	// an empty secret makes it a public client there (PKCE only).
	ClientID, ClientSecret string
	// RedirectURL is Gatehouse's callback, registered at the provider.
	RedirectURL string
	// Scopes requested (default openid profile email; openid is always in).
	Scopes []string
	Claims ClaimNames
	// UserInfo also reads the provider's UserInfo endpoint; its sub must
	// be the ID token's.
	UserInfo bool
	// HTTPClient is used for every request to the provider; nil means a
	// client with a 10 s timeout. Responses are read through a 1 MiB limit
	// either way.
	HTTPClient *http.Client
	// Now is the clock for the ID token's expiry; nil means time.Now.
	Now func() time.Time
}

// Signing algorithms accepted for the provider's ID tokens: asymmetric
// only (RFC 8725 §3.1), never none or HMAC.
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

const (
	maxResponseBytes = 1 << 20
	// retryDiscovery is how long a failed discovery is remembered before
	// the next sign-in tries again, so a provider that is down is not
	// asked on every request.
	retryDiscovery = 5 * time.Second
)

// Provider is one upstream provider. It is safe for concurrent use.
type Provider struct {
	o      Options
	client *http.Client

	mu        sync.Mutex
	disc      *discovered
	failedAt  time.Time
	failedErr error
}

// discovered is what discovery found.
type discovered struct {
	oauth2   oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	// issParam: the provider sends iss with its authorization responses
	// (RFC 9207), so the callback must carry the right one.
	issParam bool
}

// UpstreamError is the provider's own error response at the callback
// (RFC 6749 §4.1.2.1), such as access_denied or login_required.
type UpstreamError struct {
	Code, Description string
}

func (e *UpstreamError) Error() string {
	if e.Description == "" {
		return "the provider answered " + e.Code
	}
	return "the provider answered " + e.Code + ": " + e.Description
}

// VerifyError is a callback or an answer of the provider that failed a
// check; Reason says which, without any token, code or secret.
type VerifyError struct{ Reason string }

func (e *VerifyError) Error() string { return e.Reason }

func refuse(format string, a ...any) error { return &VerifyError{Reason: fmt.Sprintf(format, a...)} }

// New checks o; it contacts nobody.
func New(o Options) (*Provider, error) {
	u, err := url.Parse(o.Issuer)
	switch {
	case o.Issuer == "" || err != nil || !u.IsAbs() || u.Host == "":
		return nil, errors.New("upstream: the issuer must be an absolute URL")
	case o.ClientID == "":
		return nil, errors.New("upstream: a client ID is required")
	case o.RedirectURL == "":
		return nil, errors.New("upstream: a redirect URL is required")
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	} else if !slices.Contains(o.Scopes, oidc.ScopeOpenID) {
		o.Scopes = append([]string{oidc.ScopeOpenID}, o.Scopes...)
	}
	c := &o.Claims
	for _, d := range []struct {
		f   *string
		def string
	}{{&c.Subject, "sub"}, {&c.Username, "preferred_username"}, {&c.Email, "email"},
		{&c.EmailVerified, "email_verified"}, {&c.Name, "name"}, {&c.Groups, "groups"}} {
		if *d.f == "" {
			*d.f = d.def
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 10 * time.Second}
	}
	client := *base
	transport := client.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	client.Transport = limitedTransport{next: transport}
	return &Provider{o: o, client: &client}, nil
}

// limitedTransport caps every response body: a provider's answers are
// small, and a huge one must not exhaust memory.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxResponseBytes+1), c: resp.Body}
	return resp, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxResponseBytes {
		return n, errors.New("upstream: response larger than 1 MiB")
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// ctx carries the provider's HTTP client for go-oidc and x/oauth2. The
// key set go-oidc builds at discovery keeps the context it was given for
// later key fetches, so that one must never be a request's.
func (p *Provider) ctx(parent context.Context) context.Context {
	return oidc.ClientContext(parent, p.client)
}

// discover returns the provider's metadata, discovering it on first use.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	if p.failedErr != nil && p.o.Now().Sub(p.failedAt) < retryDiscovery {
		return nil, p.failedErr
	}
	// Discovery waits for the request that needs it, but what it keeps
	// (the key set) must outlive that request.
	dctx, cancel := context.WithTimeout(p.ctx(context.Background()), 10*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	prov, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(dctx), p.client), p.o.Issuer)
	if err == nil && dctx.Err() != nil {
		err = dctx.Err()
	}
	if err != nil {
		p.failedAt, p.failedErr = p.o.Now(), fmt.Errorf("%w: discovery of %s: %v", connector.ErrUnavailable, p.o.Issuer, err)
		return nil, p.failedErr
	}
	var meta struct {
		ISSParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	_ = prov.Claims(&meta)
	d := &discovered{provider: prov, issParam: meta.ISSParam,
		oauth2: oauth2.Config{ClientID: p.o.ClientID, ClientSecret: p.o.ClientSecret, RedirectURL: p.o.RedirectURL,
			Endpoint: prov.Endpoint(), Scopes: p.o.Scopes},
		verifier: prov.VerifierContext(p.ctx(context.Background()), &oidc.Config{ClientID: p.o.ClientID,
			SupportedSigningAlgs: signingAlgs, Now: p.o.Now}),
	}
	p.disc, p.failedErr = d, nil
	return d, nil
}

// AuthURL returns where to send the browser: the code flow with state,
// nonce and the S256 challenge of verifier, plus extra (prompt, max_age,
// login_hint) as given.
func (p *Provider) AuthURL(ctx context.Context, state, nonce, verifier string, extra url.Values) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	for k, vs := range extra {
		for _, v := range vs {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	return d.oauth2.AuthCodeURL(state, opts...), nil
}

// Callback checks the query of the callback request and returns the code:
// the state must be wantState (compared in constant time); an error
// response is returned as *UpstreamError; when the provider says it sends
// iss (RFC 9207), iss must be its issuer, which stops a mix-up with
// another provider.
func (p *Provider) Callback(q url.Values, wantState string) (string, error) {
	if len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(wantState)) != 1 {
		return "", refuse("the callback's state is not the one this browser left with")
	}
	d, err := p.discover(context.Background())
	if err != nil {
		return "", err
	}
	if iss, sent := q["iss"]; sent || d.issParam {
		if len(iss) != 1 || iss[0] != p.o.Issuer {
			return "", refuse("the callback's iss is not %s (RFC 9207)", p.o.Issuer)
		}
	}
	if code := q.Get("error"); code != "" {
		return "", &UpstreamError{Code: clip(code), Description: clip(q.Get("error_description"))}
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return "", refuse("the callback carries no code")
	}
	return code, nil
}

// Exchange redeems the code with the PKCE verifier, verifies the ID token
// and returns the person it names.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (connector.Identity, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return connector.Identity{}, err
	}
	tok, err := d.oauth2.Exchange(p.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return connector.Identity{}, refuse("the provider refused the code: %s", clip(re.ErrorCode))
		}
		return connector.Identity{}, fmt.Errorf("%w: redeeming the code at %s: %v", connector.ErrUnavailable, p.o.Issuer, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return connector.Identity{}, refuse("the provider's token response has no ID token")
	}
	claims, err := p.verify(ctx, d, raw, nonce, tok.AccessToken)
	if err != nil {
		return connector.Identity{}, err
	}
	if p.o.UserInfo {
		if err := p.userInfo(ctx, d, tok, claims); err != nil {
			return connector.Identity{}, err
		}
	}
	return p.identity(claims)
}

// verify checks an ID token with go-oidc and the nonce, and returns its
// claims.
func (p *Provider) verify(ctx context.Context, d *discovered, raw, nonce, accessToken string) (map[string]any, error) {
	idt, err := d.verifier.Verify(p.ctx(ctx), raw)
	if err != nil {
		return nil, refuse("the provider's ID token is not valid: %s", verifyReason(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, refuse("the ID token's nonce is not this sign-in's")
	}
	if idt.AccessTokenHash != "" && accessToken != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, refuse("the ID token's at_hash does not match the access token")
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, refuse("the ID token's claims do not decode")
	}
	return claims, nil
}

// verifyReason names the check go-oidc's error is about, without the
// token.
func verifyReason(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "it has expired"
	case strings.Contains(msg, "issuer"), strings.Contains(msg, "different provider"):
		return "it is from another issuer"
	case strings.Contains(msg, "nbf"):
		return "it is not valid yet"
	case strings.Contains(msg, "audience"):
		return "it is for another client"
	case strings.Contains(msg, "signature"), strings.Contains(msg, "signing"), strings.Contains(msg, "algorithm"):
		return "its signature does not verify"
	}
	return "it does not parse"
}

// userInfo merges the provider's UserInfo claims under the ID token's
// (whose sub they must share: OIDC Core §5.3.2).
func (p *Provider) userInfo(ctx context.Context, d *discovered, tok *oauth2.Token, claims map[string]any) error {
	ui, err := d.provider.UserInfo(p.ctx(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: UserInfo at %s: %v", connector.ErrUnavailable, p.o.Issuer, err)
	}
	if ui.Subject != claims["sub"] {
		return refuse("UserInfo names another subject than the ID token")
	}
	extra := map[string]any{}
	if err := ui.Claims(&extra); err != nil {
		return refuse("UserInfo does not decode")
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// identity maps the claims; the subject is required.
func (p *Provider) identity(claims map[string]any) (connector.Identity, error) {
	n := p.o.Claims
	str := func(name string) string { s, _ := claims[name].(string); return s }
	id := connector.Identity{Subject: str(n.Subject), Username: str(n.Username), Email: str(n.Email), Name: str(n.Name)}
	if id.Subject == "" {
		return connector.Identity{}, refuse("the ID token has no %s claim", n.Subject)
	}
	switch v := claims[n.EmailVerified].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = v == "true"
	}
	id.Groups = stringList(claims[n.Groups])
	id.AMR = stringList(claims["amr"])
	return id, nil
}

// stringList reads a claim that is a list of strings or one string.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// clip bounds what the provider wrote before it reaches a page or a log.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// S256 is the PKCE challenge of verifier (RFC 7636 §4.2), for tests.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
