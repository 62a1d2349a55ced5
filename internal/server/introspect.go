package server

import (
	"encoding/json"
	"net/http"

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
	typ := "Bearer"
	if claims.Cnf != nil {
		typ = "DPoP" // RFC 9449 §6.2
	}
	s.writeIntrospection(w, oauth.Introspection{Active: true, TokenType: typ, Scope: claims.Scope,
		ClientID: claims.ClientID, Subject: claims.Subject, Audience: claims.Audience, AZP: claims.AZP,
		Issuer: claims.Issuer, IssuedAt: claims.IssuedAt, Expiry: claims.Expiry, JTI: claims.JTI, Cnf: claims.Cnf})
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
