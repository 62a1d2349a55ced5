package server

import (
	"bytes"
	"context"

	"github.com/gatehouse/gatehouse/internal/grant"
)

// subjectToken verifies a token handed in for an RFC 8693 exchange with
// the issuer's own verifier (its access tokens only: an ID token or a
// refresh token never passes), refuses a revoked one, and reads its
// delegation claims (act, may_act).
func (s *Server) subjectToken(ctx context.Context, tok string) (*grant.Subject, bool) {
	v, err := s.own.verifiers()
	if err != nil {
		return nil, false
	}
	c, err := v.access.Verify(ctx, tok)
	if err != nil {
		return nil, false
	}
	if now := s.now(); !s.unrevoked.known(c.JTI, now) {
		epoch := s.unrevoked.epoch.Load()
		if revoked, err := s.store.AccessRevoked(ctx, c.JTI, now); err != nil || revoked {
			return nil, false // fails closed
		}
		s.unrevoked.remember(c.JTI, epoch, now, c.Expiry)
	}
	var extra struct {
		Act    *actClaim `json:"act"`
		MayAct *actClaim `json:"may_act"`
	}
	// The token is this issuer's and signed, so the members are spelled
	// as the minter spells them: without either name there is nothing
	// to decode, and the second parse of the payload is skipped.
	if bytes.Contains(c.Raw, []byte(`"act"`)) || bytes.Contains(c.Raw, []byte(`"may_act"`)) {
		if err := c.Unmarshal(&extra); err != nil {
			return nil, false
		}
	}
	sub := &grant.Subject{Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience, Scopes: c.Scopes, Expiry: c.Expiry}
	for a := extra.Act; a != nil && len(sub.Act) < 16; a = a.Act {
		sub.Act = append(sub.Act, a.Sub)
	}
	if extra.MayAct != nil {
		sub.HasMayAct, sub.MayAct = true, []string{extra.MayAct.Sub}
	}
	return sub, true
}

// actClaim is RFC 8693 §4.1's act (and §4.4's may_act): an actor, and the
// actor before it.
type actClaim struct {
	Sub string    `json:"sub"`
	Act *actClaim `json:"act"`
}
