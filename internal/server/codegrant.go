package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// grantOutcome is what one successful user grant returns.
type grantOutcome struct {
	access  issue.Minted
	idToken string
	refresh string
	scope   string
}

// authorizationCodeGrant is RFC 6749 §4.1.3 with RFC 7636 §4.6 and the
// single-use rule of §4.1.2: a replayed code revokes what it issued.
func (s *Server) authorizationCodeGrant(w http.ResponseWriter, r *http.Request, c *clientEntry, p params) {
	id := c.cfg.ID
	if !s.model.MayUseGrant(id, oauth.GrantAuthorizationCode) {
		s.writeError(w, r, oauth.UnauthorizedClient("client '"+id+"' is not allowed the authorization_code grant"))
		return
	}
	code, ok := p.get("code")
	if !ok {
		s.writeError(w, r, oauth.InvalidRequest("missing code"))
		return
	}
	ctx := r.Context()
	now := s.now()
	hash := issue.HashOpaque(code)
	ac, err := s.store.GetCode(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.writeError(w, r, oauth.InvalidGrant("the authorization code is invalid or has expired"))
		return
	case err != nil:
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	if ac.ClientID != id {
		s.writeError(w, r, oauth.InvalidGrant("the authorization code was issued to another client"))
		return
	}
	if !ac.UsedAt.IsZero() {
		s.revokeIssued(r, ac.Issued, now)
		s.writeError(w, r, oauth.InvalidGrant("the authorization code was already used; the tokens issued with it have been revoked"))
		return
	}
	if !now.Before(ac.ExpiresAt) {
		s.writeError(w, r, oauth.InvalidGrant("the authorization code has expired; codes live 60 seconds"))
		return
	}
	if !redirectMatches(c, ac.RedirectURI, p) {
		s.writeError(w, r, oauth.InvalidGrant("redirect_uri does not match the one of the authorization request"))
		return
	}
	verifier, hasVerifier := p.get("code_verifier")
	switch {
	case ac.CodeChallenge != "" && !hasVerifier:
		s.writeError(w, r, oauth.InvalidGrant("code_verifier is required: the authorization request used PKCE"))
		return
	case ac.CodeChallenge == "" && hasVerifier:
		// RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
		s.writeError(w, r, oauth.InvalidGrant("code_verifier sent but the authorization request had no code_challenge"))
		return
	case hasVerifier && (!validVerifierSyntax(verifier) || !pkceMatches(verifier, ac.CodeChallenge)):
		s.writeError(w, r, oauth.InvalidGrant("code_verifier does not match the code_challenge"))
		return
	}
	g, oe := narrowGrant(id, ac.Scopes, ac.Audience, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	fam := store.RefreshFamily{ClientID: id, Subject: ac.Subject, Scopes: ac.Scopes, Audience: ac.Audience,
		SessionID: ac.SessionID, AuthTime: ac.AuthTime}
	out, issued, oe := s.mintUserTokens(id, g, fam, ac.Nonce, ac.IDTokenClaims, now)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	if _, err := s.store.RedeemCode(ctx, hash, issued, now); err != nil {
		switch {
		case errors.Is(err, store.ErrCodeUsed):
			// Lost a race with a concurrent redemption: treat as a replay.
			prev, _ := s.store.GetCode(ctx, hash)
			s.revokeIssued(r, prev.Issued, now)
			s.writeError(w, r, oauth.InvalidGrant("the authorization code was already used; the tokens issued with it have been revoked"))
		case errors.Is(err, store.ErrExpired):
			s.writeError(w, r, oauth.InvalidGrant("the authorization code has expired"))
		default:
			s.writeError(w, r, oauth.ServerError(err))
		}
		return
	}
	s.issued(w, id, oauth.GrantAuthorizationCode, g, out.access)
	s.writeUserTokens(w, out)
}

// refreshTokenGrant is RFC 6749 §6: rotation on every use, reuse revokes
// the family, and the request may narrow scope and audience, never widen.
func (s *Server) refreshTokenGrant(w http.ResponseWriter, r *http.Request, c *clientEntry, p params) {
	id := c.cfg.ID
	if !s.model.MayUseGrant(id, oauth.GrantRefreshToken) {
		s.writeError(w, r, oauth.UnauthorizedClient("client '"+id+"' is not allowed the refresh_token grant"))
		return
	}
	rt, ok := p.get("refresh_token")
	if !ok {
		s.writeError(w, r, oauth.InvalidRequest("missing refresh_token"))
		return
	}
	ctx := r.Context()
	now := s.now()
	oldHash := issue.HashOpaque(rt)
	tok, fam, err := s.store.GetRefresh(ctx, oldHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.writeError(w, r, oauth.InvalidGrant("the refresh token is invalid"))
		return
	case err != nil:
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	if fam.ClientID != id {
		s.writeError(w, r, oauth.InvalidGrant("the refresh token was issued to another client"))
		return
	}
	if !fam.RevokedAt.IsZero() {
		s.writeError(w, r, oauth.InvalidGrant("the refresh token has been revoked"))
		return
	}
	if !now.Before(tok.ExpiresAt) {
		s.writeError(w, r, oauth.InvalidGrant("the refresh token has expired; sign in again"))
		return
	}
	if s.users[fam.Subject] == nil {
		// The user was removed from the configuration: the grant ends.
		if err := s.store.RevokeFamily(ctx, fam.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("revoking the family of a removed user", "error", err)
		}
		s.writeError(w, r, oauth.InvalidGrant("the user of this refresh token no longer exists; sign in again"))
		return
	}
	scopes, audience := s.model.Restrict(id, fam.Scopes, fam.Audience)
	if len(audience) == 0 {
		s.writeError(w, r, oauth.InvalidGrant("nothing this refresh token granted is still allowed for the client; sign in again"))
		return
	}
	g, oe := narrowGrant(id, scopes, audience, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	access, err := s.minter.AccessToken(issue.Access{Subject: fam.Subject, ClientID: id, Grant: g})
	if err != nil {
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	next, nextHash, err := issue.NewOpaque()
	if err != nil {
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	_, err = s.store.RotateRefresh(ctx, oldHash,
		store.RefreshToken{Hash: nextHash, FamilyID: fam.ID, CreatedAt: now, ExpiresAt: fam.ExpiresAt},
		store.AccessRecord{JTI: access.JTI, FamilyID: fam.ID, ExpiresAt: access.ExpiresAt}, now)
	switch {
	case errors.Is(err, store.ErrReused):
		s.log.Warn("refresh token reuse detected: family revoked", "client", id, "family", fam.ID)
		s.writeError(w, r, oauth.InvalidGrant("the refresh token was already used; every token of this grant has been revoked (possible token theft), sign in again"))
		return
	case errors.Is(err, store.ErrRevoked):
		s.writeError(w, r, oauth.InvalidGrant("the refresh token has been revoked"))
		return
	case errors.Is(err, store.ErrExpired):
		s.writeError(w, r, oauth.InvalidGrant("the refresh token has expired; sign in again"))
		return
	case err != nil:
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	out := grantOutcome{access: access, refresh: next, scope: g.Scope}
	if slices.Contains(g.Scopes, "openid") {
		idt, err := s.idToken(idTokenFor{subject: fam.Subject, clientID: id, sessionID: fam.SessionID,
			authTime: fam.AuthTime, scopes: g.Scopes, accessToken: access.Token})
		if err != nil {
			s.writeError(w, r, oauth.ServerError(err))
			return
		}
		out.idToken = idt
	}
	s.issued(w, id, oauth.GrantRefreshToken, g, access)
	s.writeUserTokens(w, out)
}

// narrowGrant applies an optional scope / resource / audience narrowing of
// a token request to what the user granted (RFC 8707 §2.2, RFC 6749 §6).
func narrowGrant(clientID string, scopes, audience []string, p params) (policy.Grant, *oauth.Error) {
	g := policy.Grant{Audience: oauth.Audience(audience), Scopes: scopes}
	if sc, ok := p.get("scope"); ok {
		var out []string
		for _, v := range strings.Fields(sc) {
			if !slices.Contains(scopes, v) {
				return g, oauth.InvalidScope("scope '" + v + "' was not granted; a token request may narrow the granted scopes ('" + strings.Join(scopes, " ") + "'), never widen them")
			}
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		if len(out) > 0 {
			g.Scopes = out
		}
	}
	targets := p.all("resource")
	if a, ok := p.get("audience"); ok {
		targets = append(targets, strings.Fields(a)...)
	}
	if len(targets) > 0 {
		var aud oauth.Audience
		for _, t := range targets {
			if !slices.Contains(audience, t) {
				return g, oauth.InvalidTarget("'" + t + "' was not granted; the granted audience is '" + strings.Join(audience, " ") + "'")
			}
			if !aud.Contains(t) {
				aud = append(aud, t)
			}
		}
		g.Audience = aud
	}
	g.Scope = strings.Join(g.Scopes, " ")
	if len(g.Audience) != 1 || g.Audience[0] != clientID {
		g.AZP = clientID
	}
	return g, nil
}

// mintUserTokens signs the access token, the ID token when openid was
// granted, and prepares a refresh family when offline_access was granted
// to a client allowed the refresh_token grant. Nothing is stored here: the
// caller commits it in one transaction with the code redemption.
func (s *Server) mintUserTokens(clientID string, g policy.Grant, fam store.RefreshFamily, nonce string, requested []string, now time.Time) (grantOutcome, store.Issued, *oauth.Error) {
	access, err := s.minter.AccessToken(issue.Access{Subject: fam.Subject, ClientID: clientID, Grant: g})
	if err != nil {
		return grantOutcome{}, store.Issued{}, oauth.ServerError(err)
	}
	out := grantOutcome{access: access, scope: g.Scope}
	issued := store.Issued{AccessJTI: access.JTI, AccessExpiresAt: access.ExpiresAt}
	if slices.Contains(g.Scopes, "openid") {
		if out.idToken, err = s.idToken(idTokenFor{subject: fam.Subject, clientID: clientID, nonce: nonce,
			sessionID: fam.SessionID, authTime: fam.AuthTime, scopes: g.Scopes, requested: requested,
			accessToken: access.Token}); err != nil {
			return grantOutcome{}, store.Issued{}, oauth.ServerError(err)
		}
	}
	if slices.Contains(fam.Scopes, "offline_access") && s.model.MayUseGrant(clientID, oauth.GrantRefreshToken) {
		token, hash, err := issue.NewOpaque()
		if err != nil {
			return grantOutcome{}, store.Issued{}, oauth.ServerError(err)
		}
		_, famID, err := issue.NewOpaque()
		if err != nil {
			return grantOutcome{}, store.Issued{}, oauth.ServerError(err)
		}
		fam.ID = famID[:32]
		fam.CreatedAt = now
		fam.ExpiresAt = now.Add(s.cfg.RefreshTokenTTL)
		issued.FamilyID = fam.ID
		issued.Family = &fam
		issued.Refresh = &store.RefreshToken{Hash: hash, FamilyID: fam.ID, CreatedAt: now, ExpiresAt: fam.ExpiresAt}
		out.refresh = token
	}
	return out, issued, nil
}

// idTokenFor describes one ID token of a user grant.
type idTokenFor struct {
	subject, clientID, nonce, sessionID string
	authTime                            time.Time
	scopes                              []string
	// requested are the claims the claims parameter asked for in the ID
	// token (OIDC Core §5.5); empty on refresh.
	requested   []string
	accessToken string
}

// passwordAMR is the RFC 8176 amr of a sign-in at the login page.
var passwordAMR = []string{"pwd"}

// idToken mints an ID token. User claims released by the granted scopes
// go into it only when the claims parameter asked for them or the client
// is configured with id_token_scope_claims; otherwise they come from
// UserInfo alone, as OIDC Core §5.4 says when an access token is issued.
func (s *Server) idToken(t idTokenFor) (string, error) {
	c := s.clients[t.clientID]
	claims := map[string]any{}
	if u := s.users[t.subject]; u != nil {
		for name, v := range u.claimsFor(t.scopes) {
			if c.cfg.IDTokenScopeClaims || slices.Contains(t.requested, name) {
				claims[name] = v
			}
		}
	}
	// The client's id_token_signed_response_alg; empty signs with the
	// access tokens' algorithm.
	m, err := s.minter.IDToken(issue.Identity{Subject: t.subject, ClientID: t.clientID, Nonce: t.nonce,
		SessionID: store.SID(t.sessionID), AuthTime: t.authTime, AccessToken: t.accessToken, Claims: claims,
		Alg: c.cfg.IDTokenSignedResponseAlg, ACR: oauth.ACRPassword, AMR: passwordAMR})
	return m.Token, err
}

// revokeIssued undoes what a replayed code had issued (RFC 6749 §4.1.2).
func (s *Server) revokeIssued(r *http.Request, iss store.Issued, now time.Time) {
	ctx := r.Context()
	if iss.FamilyID != "" {
		if err := s.store.RevokeFamily(ctx, iss.FamilyID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("revoking the family of a replayed code", "error", err)
		}
	}
	if iss.AccessJTI != "" {
		if err := s.store.RevokeAccess(ctx, iss.AccessJTI, iss.AccessExpiresAt); err != nil {
			s.log.Error("revoking the access token of a replayed code", "error", err)
		}
	}
	s.log.Warn("authorization code replay: issued tokens revoked")
}

// redirectMatches applies RFC 6749 §4.1.3: redirect_uri must repeat the
// one of the authorization request when that request named it (stored);
// when it did not, it may be left out, and if sent must be the client's
// one registered URI, the one the code was delivered to.
func redirectMatches(c *clientEntry, stored string, p params) bool {
	ru, sent := p.get("redirect_uri")
	if stored != "" {
		return ru == stored
	}
	return !sent || len(c.cfg.RedirectURIs) == 1 && ru == c.cfg.RedirectURIs[0]
}

func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func (s *Server) writeUserTokens(w http.ResponseWriter, out grantOutcome) {
	body := oauth.TokenResponse{AccessToken: out.access.Token, TokenType: "Bearer",
		ExpiresIn: int64(s.minter.TTL().Seconds()), Scope: out.scope, RefreshToken: out.refresh, IDToken: out.idToken}
	b, err := jsonMarshal(body)
	if err != nil {
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
