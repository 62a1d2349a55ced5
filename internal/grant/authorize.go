package grant

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// Authorization is a validated authorization request (RFC 6749 §4.1.1,
// OIDC Core §3.1.2.1, RFC 7636 §4.3, RFC 8707 §2).
type Authorization struct {
	Client      *Client
	RedirectURI string
	// RedirectGiven: the request named redirect_uri (rather than relying
	// on the one registered URI), so the token request must repeat it.
	RedirectGiven bool
	State, Nonce  string
	Grant         policy.Grant
	// Challenge is the PKCE S256 challenge, or empty.
	Challenge string
	// DPoPJKT is dpop_jkt (RFC 9449 §10): the thumbprint of the key the
	// code is bound to, or empty.
	DPoPJKT string
	Prompt  map[string]bool
	// MaxAge is -1 when absent.
	MaxAge    int
	LoginHint string
	// HintSubject is the user an id_token_hint names: the request is for
	// that user only.
	HintSubject string
	// IDTokenClaims are the user claims the claims parameter asks for in
	// the ID token (OIDC Core §5.5).
	IDTokenClaims []string
	// Named are the resource values the request named (RFC 8707): a
	// target the person may not reach refuses the request (AuthorizeFor).
	Named []string
	// IDPHint names the identity source the client wants the person to
	// sign in with (idp_hint), or "".
	IDPHint string
	// Raw is the original query, carried through the login and consent
	// forms so the request is re-validated on every step and no pending
	// state has to live on one instance.
	Raw string
}

// AuthError is an authorization error and how it must be delivered: shown
// on an error page when the client or redirect URI cannot be trusted (RFC
// 6749 §4.1.2.1: never redirect to an unverified URI), redirected otherwise.
type AuthError struct {
	Err      *oauth.Error
	Redirect bool
}

func displayErr(desc string) *AuthError { return &AuthError{Err: oauth.InvalidRequest(desc)} }

// RedirectErr is an error sent back to the client's redirect URI.
func RedirectErr(e *oauth.Error) *AuthError { return &AuthError{Err: e, Redirect: true} }

// HintChecker verifies an id_token_hint: an ID token this server signed,
// expired or not. It returns the token's subject.
type HintChecker func(idToken string) (subject string, ok bool)

// authParamRepeatable: only RFC 8707 resource may repeat.
func authParamRepeatable(k string) bool { return k == "resource" }

// ParseAuthorization validates raw (a query string). The client and
// redirect URI are checked first; until both are trusted every error is
// displayed, after that every error is redirected.
func (e *Engine) ParseAuthorization(ctx context.Context, raw string, hint HintChecker) (*Authorization, *AuthError) {
	// A request that does not parse (a repeated parameter, a bad escape)
	// cannot be trusted to name its client or redirect URI: displayed.
	p, oe := oauth.ParseForm(raw, authParamRepeatable)
	if oe != nil {
		return nil, &AuthError{Err: oe}
	}
	a, ae := e.trustRedirect(ctx, p, raw)
	if ae != nil {
		return nil, ae
	}
	for _, check := range []func(oauth.Form) *oauth.Error{e.checkResponseType(a), a.parsePKCE, a.parsePrompt,
		a.parseHint(hint), a.parseClaims} {
		if oe := check(p); oe != nil {
			return a, RedirectErr(oe)
		}
	}
	var pr policy.Request
	pr.Resources = p.All("resource")
	pr.Scope, pr.ScopeGiven = p.Get("scope")
	g, oe := e.model.Authorization(a.Client.ID, pr)
	if oe != nil {
		return a, RedirectErr(oe)
	}
	a.Grant = g
	a.Named = pr.Resources
	return a, nil
}

// trustRedirect finds the client and the redirect URI to answer at.
func (e *Engine) trustRedirect(ctx context.Context, p oauth.Form, raw string) (*Authorization, *AuthError) {
	clientID, _ := p.Get("client_id")
	if clientID == "" {
		return nil, displayErr("the request has no client_id; the application that sent you here is misconfigured")
	}
	c, oe := e.LookupClient(ctx, clientID)
	if oe != nil {
		return nil, displayErr(oe.Description)
	}
	a := &Authorization{Client: c, MaxAge: -1, Raw: raw}
	redirect, given := p.Get("redirect_uri")
	switch {
	case given && !slices.Contains(c.RedirectURIs, redirect):
		return nil, displayErr("redirect_uri is not registered for client '" + clientID +
			"'; it must match one of its redirect_uris exactly")
	case !given && len(c.RedirectURIs) == 1:
		redirect = c.RedirectURIs[0]
	case !given:
		return nil, displayErr("redirect_uri is required: client '" + clientID + "' has several registered")
	}
	a.RedirectURI, a.RedirectGiven = redirect, given
	a.State, _ = p.Get("state")
	a.Nonce, _ = p.Get("nonce")
	a.LoginHint, _ = p.Get("login_hint")
	a.IDPHint, _ = p.Get("idp_hint")
	return a, nil
}

func (e *Engine) checkResponseType(a *Authorization) func(oauth.Form) *oauth.Error {
	return func(p oauth.Form) *oauth.Error {
		switch rt, _ := p.Get("response_type"); {
		case rt == "":
			return oauth.InvalidRequest("missing response_type; use response_type=code")
		case rt != "code":
			oe := oauth.InvalidRequest("response_type '" + oauth.SafeName(rt) + "' is not supported: only code (implicit and hybrid flows are disabled)")
			oe.Code = oauth.CodeUnsupportedResponseType
			return oe
		}
		if oe := e.mayUse(a.Client.ID, oauth.GrantAuthorizationCode); oe != nil {
			return oe
		}
		if _, ok := p.Get("request"); ok {
			return &oauth.Error{Code: "request_not_supported", Description: "request objects are not supported", Status: 400}
		}
		if _, ok := p.Get("request_uri"); ok {
			return &oauth.Error{Code: "request_uri_not_supported", Description: "request_uri is not supported", Status: 400}
		}
		if rm, ok := p.Get("response_mode"); ok && rm != "query" {
			return oauth.InvalidRequest("response_mode must be query")
		}
		return nil
	}
}

// parsePKCE is RFC 7636 §4.3: S256 only; required unless the client's
// configuration says otherwise (never for public clients).
func (a *Authorization) parsePKCE(p oauth.Form) *oauth.Error {
	challenge, hasChallenge := p.Get("code_challenge")
	method, hasMethod := p.Get("code_challenge_method")
	switch {
	case hasChallenge && method != "S256":
		return oauth.InvalidRequest("code_challenge_method must be S256 (plain is refused)")
	case hasMethod && !hasChallenge:
		return oauth.InvalidRequest("code_challenge_method without code_challenge")
	case hasChallenge && !ValidVerifier(challenge):
		return oauth.InvalidRequest("code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]")
	case !hasChallenge && a.Client.PKCERequired:
		return oauth.InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	a.Challenge = challenge
	// dpop_jkt rides along with PKCE: both bind the code to something
	// only the client holds.
	if jkt, ok := p.Get("dpop_jkt"); ok {
		if !ValidThumbprint(jkt) {
			return oauth.InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 7638): 43 characters")
		}
		a.DPoPJKT = jkt
	}
	return nil
}

// ValidThumbprint reports whether s has the form of a base64url-encoded
// SHA-256 JWK thumbprint: 43 characters of the base64url alphabet.
func ValidThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parsePrompt reads max_age and prompt (OIDC Core §3.1.2.1).
func (a *Authorization) parsePrompt(p oauth.Form) *oauth.Error {
	if ma, ok := p.Get("max_age"); ok {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return oauth.InvalidRequest("max_age must be a non-negative integer of seconds")
		}
		a.MaxAge = n
	}
	a.Prompt = map[string]bool{}
	pr, _ := p.Get("prompt")
	for _, v := range oauth.SplitScope(pr) {
		switch v {
		case "none", "login", "consent", "select_account":
			a.Prompt[v] = true
		default:
			return oauth.InvalidRequest("prompt '" + oauth.SafeName(v) + "' is not supported: use none, login or consent")
		}
	}
	if a.Prompt["none"] && len(a.Prompt) > 1 {
		return oauth.InvalidRequest("prompt=none cannot be combined with other values")
	}
	return nil
}

func (a *Authorization) parseHint(check HintChecker) func(oauth.Form) *oauth.Error {
	return func(p oauth.Form) *oauth.Error {
		hint, ok := p.Get("id_token_hint")
		if !ok {
			return nil
		}
		sub, valid := check(hint)
		if !valid {
			return oauth.InvalidRequest("id_token_hint is not an ID token issued by this server")
		}
		a.HintSubject = sub
		return nil
	}
}

// parseClaims reads the claims parameter (OIDC Core §5.5) and checks an
// essential acr against the one authentication context Gatehouse offers
// (§5.5.1.1: an essential acr that cannot be met fails the request).
// acr_values (§3.1.2.1) are voluntary and need no check: the ID token
// says which context was used.
func (a *Authorization) parseClaims(p oauth.Form) *oauth.Error {
	raw, ok := p.Get("claims")
	if !ok {
		return nil
	}
	cr, err := oauth.ParseClaimsRequest(raw)
	if err != nil {
		return oauth.InvalidRequest("the claims parameter is not valid: " + err.Error())
	}
	for _, set := range []map[string]oauth.ClaimSpec{cr.IDToken, cr.UserInfo} {
		acr, ok := set["acr"]
		if !ok || !acr.Essential {
			continue
		}
		values, err := acr.StringValues()
		if err != nil {
			return oauth.InvalidRequest("claims: acr values must be strings")
		}
		if len(values) > 0 && !slices.Contains(values, oauth.ACRPassword) && !slices.Contains(values, oauth.ACRFederated) {
			return &oauth.Error{Code: oauth.CodeUnmetAuthenticationRequirement, Status: 400,
				Description: "the essential acr cannot be met: this server offers " + oauth.ACRPassword + " and " + oauth.ACRFederated}
		}
	}
	a.IDTokenClaims = oauth.Names(cr.IDToken)
	return nil
}

// HasScope reports whether the grant includes scope.
func (a *Authorization) HasScope(scope string) bool { return slices.Contains(a.Grant.Scopes, scope) }

// LoginNeeded says why sess (nil: nobody signed in) cannot serve the
// request without a new sign-in (OIDC Core §3.1.2.1: prompt, max_age,
// id_token_hint), or "" when it can.
func (a *Authorization) LoginNeeded(sess *store.Session, now time.Time) string {
	switch {
	case sess == nil:
		return "the user is not signed in"
	case a.Prompt["login"] || a.Prompt["select_account"]:
		return "the request asks for a new sign-in"
	case a.MaxAge >= 0 && now.Sub(sess.AuthTime) > time.Duration(a.MaxAge)*time.Second:
		return "the sign-in is older than max_age"
	case a.HintSubject != "" && a.HintSubject != sess.Subject:
		return "the signed-in user is not the one id_token_hint names"
	}
	return ""
}

// ConsentNeeded reports whether the person must be asked: never for a
// first-party client, always with prompt=consent, otherwise unless a
// stored consent covers every scope and audience of the request.
func (e *Engine) ConsentNeeded(ctx context.Context, a *Authorization, subject string) (bool, *oauth.Error) {
	if a.Client.FirstParty {
		return false, nil
	}
	if a.Prompt["consent"] {
		return true, nil
	}
	c, err := e.store.GetConsent(ctx, subject, a.Client.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	case err != nil:
		return false, oauth.ServerError(err)
	}
	return !subset(a.Grant.Scopes, c.Scopes) || !subset(a.Grant.Audience, c.Audience), nil
}

// RecordConsent stores the person's approval of the request. Consent
// accumulates: approving a narrower request keeps what was approved before.
func (e *Engine) RecordConsent(ctx context.Context, a *Authorization, subject string) *oauth.Error {
	c := store.Consent{Subject: subject, ClientID: a.Client.ID, Scopes: a.Grant.Scopes,
		Audience: a.Grant.Audience, GrantedAt: e.now()}
	if old, err := e.store.GetConsent(ctx, subject, a.Client.ID); err == nil {
		c.Scopes = union(old.Scopes, c.Scopes)
		c.Audience = union(old.Audience, c.Audience)
	}
	if err := e.store.PutConsent(ctx, c); err != nil {
		return oauth.ServerError(err)
	}
	return nil
}

// IssueCode stores a single-use code bound to everything the token
// endpoint must check and returns the parameters of the redirect back.
func (e *Engine) IssueCode(ctx context.Context, a *Authorization, sess *store.Session) (url.Values, *oauth.Error) {
	code, hash, err := issue.NewOpaque()
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	now := e.now()
	method, redirect := "", ""
	if a.Challenge != "" {
		method = "S256"
	}
	// A redirect_uri the request did not name is not stored: the token
	// request then need not send it (RFC 6749 §4.1.3).
	if a.RedirectGiven {
		redirect = a.RedirectURI
	}
	c := store.AuthCode{
		Hash: hash, ClientID: a.Client.ID, RedirectURI: redirect,
		CodeChallenge: a.Challenge, CodeChallengeMethod: method, Nonce: a.Nonce,
		Subject: sess.Subject, Scopes: a.Grant.Scopes, Audience: a.Grant.Audience,
		IDTokenClaims: a.IDTokenClaims, AuthTime: sess.AuthTime, AMR: sess.AMR, SessionID: sess.ID, DPoPJKT: a.DPoPJKT,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
	if err := e.store.CreateCode(ctx, c); err != nil {
		return nil, oauth.ServerError(err)
	}
	return url.Values{"code": {code}}, nil
}

func subset(want, have []string) bool {
	for _, v := range want {
		if !slices.Contains(have, v) {
			return false
		}
	}
	return true
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
