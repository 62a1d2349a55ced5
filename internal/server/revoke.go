package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/store"
)

// handleRevoke is RFC 7009. The client authenticates as at the token
// endpoint. A refresh token revokes its whole family (and so every access
// token issued from it); an access token is revoked by its jti. A token
// that is unknown, malformed or belongs to another client is answered
// with 200 and left alone (§2.2), so the endpoint is no token oracle.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
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
	tok, ok := p.Get("token")
	if !ok {
		s.writeError(w, r, errMissingToken)
		return
	}
	hint, _ := p.Get("token_type_hint")
	outcome := "ignored"
	switch {
	case hint == "access_token" && s.revokeAccess(r, c.cfg.ID, tok):
		outcome = "access_revoked"
	case s.revokeRefresh(r, c.cfg.ID, tok):
		outcome = "refresh_revoked"
	case hint != "access_token" && s.revokeAccess(r, c.cfg.ID, tok):
		outcome = "access_revoked"
	}
	setOutcome(w, outcome)
	s.emit(r, events.Event{Type: events.Revocation, ClientID: c.cfg.ID, Outcome: outcome})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeRefresh revokes the family of tok if it is a refresh token of
// clientID.
func (s *Server) revokeRefresh(r *http.Request, clientID, tok string) bool {
	_, fam, err := s.store.GetRefresh(r.Context(), issue.HashOpaque(tok))
	if err != nil || fam.ClientID != clientID {
		return false
	}
	if err := s.store.RevokeFamily(r.Context(), fam.ID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("revocation failed", "error", err)
		return false
	}
	return true
}

// revokeAccess revokes tok by its jti if it is an access token of
// clientID.
func (s *Server) revokeAccess(r *http.Request, clientID, tok string) bool {
	claims, ok := s.parseAccessToken(tok)
	if !ok || claims.ClientID != clientID {
		return false
	}
	if err := s.store.RevokeAccess(r.Context(), claims.JTI, time.Unix(claims.Expiry, 0)); err != nil {
		s.log.Error("revocation failed", "error", err)
		return false
	}
	return true
}
