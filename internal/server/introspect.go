package server

import (
	"encoding/json"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/oauth"
)

// inactive is the whole answer for any token the caller may not learn
// about: RFC 7662 §2.2 lets the server say nothing more.
var inactive = []byte(`{"active":false}`)

// handleIntrospect is RFC 7662. The caller authenticates like at the token
// endpoint and learns "active": true only for a token whose aud names it or
// that was issued to it; for every other token, valid or not, the answer is
// indistinguishable from an invalid one.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	p, oe := s.readForm(w, r, func(string) bool { return false })
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	c, oe := s.authenticateClient(w, r, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	if c.secret == nil {
		s.writeError(w, r, oauth.InvalidClient("a public client cannot introspect tokens"))
		return
	}
	tok, ok := p.Get("token")
	if !ok {
		s.writeError(w, r, errMissingToken)
		return
	}
	caller := c.cfg.ID
	claims, ok := s.parseAccessToken(tok)
	if !ok {
		s.introspectRefresh(w, r, caller, tok)
		return
	}
	if (claims.ClientID != caller && !claims.Audience.Contains(caller)) || s.accessRevoked(r, claims) {
		s.writeIntrospection(w, oauth.InactiveIntrospection)
		return
	}
	s.writeIntrospection(w, oauth.Introspection{Active: true, TokenType: "Bearer", Scope: claims.Scope,
		ClientID: claims.ClientID, Subject: claims.Subject, Audience: claims.Audience, AZP: claims.AZP,
		Issuer: claims.Issuer, IssuedAt: claims.IssuedAt, Expiry: claims.Expiry, JTI: claims.JTI})
}

// writeIntrospection writes an RFC 7662 answer.
func (s *Server) writeIntrospection(w http.ResponseWriter, in oauth.Introspection) {
	if !in.Active {
		setOutcome(w, "inactive")
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	setOutcome(w, "active")
	body, err := json.Marshal(in)
	if err != nil {
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// errMissingToken answers an introspection or revocation without token.
var errMissingToken = oauth.InvalidRequest("missing token")

// introspectRefresh answers for an opaque refresh token: active only for
// the client it was issued to, while current (not rotated), unrevoked and
// unexpired.
func (s *Server) introspectRefresh(w http.ResponseWriter, r *http.Request, caller, tok string) {
	rt, fam, err := s.store.GetRefresh(r.Context(), issue.HashOpaque(tok))
	now := s.now()
	if err != nil || fam.ClientID != caller || !fam.RevokedAt.IsZero() || !rt.RotatedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		s.writeIntrospection(w, oauth.InactiveIntrospection)
		return
	}
	s.writeIntrospection(w, oauth.Introspection{Active: true, TokenType: "refresh_token", Scope: oauth.JoinScope(fam.Scopes),
		ClientID: fam.ClientID, Subject: fam.Subject, Audience: oauth.Audience(fam.Audience),
		Issuer: s.issuer, IssuedAt: rt.CreatedAt.Unix(), Expiry: rt.ExpiresAt.Unix()})
}

// introspectAlgs is the allowlist for tokens this server signed.
var introspectAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// parseAccessToken accepts only an unexpired RFC 9068 access token signed
// by a key of this server's ring, with this issuer. It reports false for
// anything else, never why: introspection answers reveal nothing more.
func (s *Server) parseAccessToken(tok string) (*oauth.AccessClaims, bool) {
	if len(tok) > 16<<10 {
		return nil, false
	}
	jws, err := jose.ParseSigned(tok, introspectAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != oauth.TokenTypeAccessJWT {
		return nil, false
	}
	pub, alg, ok := s.keys.PublicKey(h.KeyID)
	if !ok || alg != h.Algorithm {
		return nil, false
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, false
	}
	var c oauth.AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false
	}
	if c.Issuer != s.issuer || time.Unix(c.Expiry, 0).Before(s.now()) {
		return nil, false
	}
	return &c, true
}
