package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// authRequest is a validated authorization request (RFC 6749 §4.1.1, OIDC
// Core §3.1.2.1, RFC 7636 §4.3, RFC 8707 §2).
type authRequest struct {
	client      *clientEntry
	redirectURI string
	// redirectGiven: the request named redirect_uri (rather than relying
	// on the one registered URI), so the token request must repeat it
	// (RFC 6749 §4.1.3).
	redirectGiven bool
	// hintSubject is the user an id_token_hint names: the request is for
	// that user only (OIDC Core §3.1.2.1).
	hintSubject string
	// idTokenClaims are the user claims the claims parameter asks for in
	// the ID token (OIDC Core §5.5).
	idTokenClaims []string
	state         string
	nonce         string
	grant         policy.Grant
	challenge     string
	prompt        map[string]bool
	maxAge        int // -1 when absent
	loginHint     string
	// raw is the original query, carried through the login and consent
	// forms so the request is re-validated on every step and no pending
	// state has to live on one instance.
	raw string
}

// authError is an authorization error and how it must be delivered: shown
// on an error page when the client or redirect URI cannot be trusted (RFC
// 6749 §4.1.2.1: never redirect to an unverified URI), redirected otherwise.
type authError struct {
	err      *oauth.Error
	redirect bool
}

func displayErr(desc string) *authError {
	return &authError{err: oauth.InvalidRequest(desc)}
}

func redirectErr(e *oauth.Error) *authError { return &authError{err: e, redirect: true} }

// authParamRepeatable: only RFC 8707 resource may repeat.
func authParamRepeatable(k string) bool { return k == "resource" }

// parseAuthRequest validates raw (a query string). The client and redirect
// URI are checked first; until both are trusted every error is displayed.
func (s *Server) parseAuthRequest(raw string) (*authRequest, *authError) {
	p, oe := parseForm(raw, authParamRepeatable)
	clientID, _ := p.get("client_id")
	if oe != nil && clientID == "" {
		return nil, &authError{err: oe}
	}
	if clientID == "" {
		return nil, displayErr("the request has no client_id; the application that sent you here is misconfigured")
	}
	c := s.clients[clientID]
	if c == nil {
		return nil, displayErr("unknown client '" + safeName(clientID) + "'")
	}
	req := &authRequest{client: c, maxAge: -1, raw: raw}
	redirect, hasRedirect := p.get("redirect_uri")
	switch {
	case hasRedirect && !slices.Contains(c.cfg.RedirectURIs, redirect):
		return nil, displayErr("redirect_uri is not registered for client '" + clientID +
			"'; it must match one of its redirect_uris exactly")
	case !hasRedirect && len(c.cfg.RedirectURIs) == 1:
		redirect = c.cfg.RedirectURIs[0]
	case !hasRedirect:
		return nil, displayErr("redirect_uri is required: client '" + clientID + "' has several registered")
	}
	req.redirectURI, req.redirectGiven = redirect, hasRedirect
	req.state, _ = p.get("state")
	if oe != nil { // e.g. a duplicated parameter: now it can be redirected
		return req, redirectErr(oe)
	}
	if rt, _ := p.get("response_type"); rt != "code" {
		if rt == "" {
			return req, redirectErr(oauth.InvalidRequest("missing response_type; use response_type=code"))
		}
		e := oauth.InvalidRequest("response_type '" + safeName(rt) + "' is not supported: only code (implicit and hybrid flows are disabled)")
		e.Code = oauth.CodeUnsupportedResponseType
		return req, redirectErr(e)
	}
	if !s.model.MayUseGrant(clientID, oauth.GrantAuthorizationCode) {
		return req, redirectErr(oauth.UnauthorizedClient("client '" + clientID + "' is not allowed the authorization_code grant"))
	}
	if _, ok := p.get("request"); ok {
		return req, redirectErr(&oauth.Error{Code: "request_not_supported", Description: "request objects are not supported", Status: 400})
	}
	if _, ok := p.get("request_uri"); ok {
		return req, redirectErr(&oauth.Error{Code: "request_uri_not_supported", Description: "request_uri is not supported", Status: 400})
	}
	if rm, ok := p.get("response_mode"); ok && rm != "query" {
		return req, redirectErr(oauth.InvalidRequest("response_mode must be query"))
	}

	// PKCE (RFC 7636): S256 only; required for public clients.
	challenge, hasChallenge := p.get("code_challenge")
	method, hasMethod := p.get("code_challenge_method")
	switch {
	case hasChallenge && method != "S256":
		return req, redirectErr(oauth.InvalidRequest("code_challenge_method must be S256 (plain is refused)"))
	case hasMethod && !hasChallenge:
		return req, redirectErr(oauth.InvalidRequest("code_challenge_method without code_challenge"))
	case hasChallenge && !validVerifierSyntax(challenge):
		return req, redirectErr(oauth.InvalidRequest("code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]"))
	case !hasChallenge && c.cfg.PKCERequired():
		return req, redirectErr(oauth.InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256"))
	}
	req.challenge = challenge

	if hint, ok := p.get("id_token_hint"); ok {
		sub, _, _, valid := s.parseIDTokenHint(hint)
		if !valid {
			return req, redirectErr(oauth.InvalidRequest("id_token_hint is not an ID token issued by this server"))
		}
		req.hintSubject = sub
	}
	req.nonce, _ = p.get("nonce")
	req.loginHint, _ = p.get("login_hint")
	if ma, ok := p.get("max_age"); ok {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return req, redirectErr(oauth.InvalidRequest("max_age must be a non-negative integer of seconds"))
		}
		req.maxAge = n
	}
	req.prompt = map[string]bool{}
	if pr, ok := p.get("prompt"); ok {
		for _, v := range strings.Fields(pr) {
			switch v {
			case "none", "login", "consent", "select_account":
				req.prompt[v] = true
			default:
				return req, redirectErr(oauth.InvalidRequest("prompt '" + safeName(v) + "' is not supported: use none, login or consent"))
			}
		}
		if req.prompt["none"] && len(req.prompt) > 1 {
			return req, redirectErr(oauth.InvalidRequest("prompt=none cannot be combined with other values"))
		}
	}

	if oe := req.parseClaims(p); oe != nil {
		return req, redirectErr(oe)
	}

	var pr policy.Request
	pr.Resources = p.all("resource")
	pr.Scope, pr.ScopeGiven = p.get("scope")
	g, oe := s.model.Authorization(clientID, pr)
	if oe != nil {
		return req, redirectErr(oe)
	}
	req.grant = g
	return req, nil
}

// parseClaims reads the claims parameter (OIDC Core §5.5) and checks an
// essential acr against the one authentication context Gatehouse offers
// (§5.5.1.1: an essential acr that cannot be met fails the request).
// acr_values (§3.1.2.1) are voluntary and need no check: the ID token
// says which context was used.
func (req *authRequest) parseClaims(p params) *oauth.Error {
	raw, ok := p.get("claims")
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
		if len(values) > 0 && !slices.Contains(values, oauth.ACRPassword) {
			return &oauth.Error{Code: oauth.CodeUnmetAuthenticationRequirement, Status: http.StatusBadRequest,
				Description: "the essential acr cannot be met: this server offers only " + oauth.ACRPassword}
		}
	}
	req.idTokenClaims = oauth.Names(cr.IDToken)
	return nil
}

// hasScope reports whether the grant includes scope.
func (r *authRequest) hasScope(scope string) bool { return slices.Contains(r.grant.Scopes, scope) }

// validVerifierSyntax checks RFC 7636 §4.1 (also the form of an S256
// challenge: 43 base64url characters).
func validVerifierSyntax(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// redirectWith sends the browser back to the client with params, the state
// and the issuer (RFC 9207, against mix-up attacks).
func (s *Server) redirectWith(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", s.issuer)
	u := req.redirectURI
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u+sep+params.Encode(), http.StatusFound)
}

// failAuth delivers an authorization error the way it must be delivered.
func (s *Server) failAuth(w http.ResponseWriter, r *http.Request, req *authRequest, ae *authError) {
	setOutcome(w, ae.err.Code)
	if ae.redirect && req != nil {
		v := url.Values{"error": {ae.err.Code}}
		if ae.err.Description != "" {
			v.Set("error_description", ae.err.Description)
		}
		s.redirectWith(w, r, req, v)
		return
	}
	s.errorPage(w, http.StatusBadRequest, "This sign-in request cannot be completed", ae.err.Description,
		"Go back to the application and try again. If it keeps happening, tell the application's owner.")
}
