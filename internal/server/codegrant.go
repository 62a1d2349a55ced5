package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/oauth"
)

// handleToken is the token endpoint (RFC 6749 §3.2): decode, authenticate
// the client, run the grant in the engine, render once.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	p, oe := s.readForm(w, r, tokenParamRepeatable)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	req, oe := tokenRequest(p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	c, oe := s.authenticateClient(w, r, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	gc, oe := s.grants.LookupClient(r.Context(), c.cfg.ID)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	// The proof after the client: an unauthenticated request writes no
	// jti to the store.
	if req.DPoPJKT, oe = s.dpopProof(w, r); oe != nil {
		s.writeError(w, r, oe)
		return
	}
	res, oe := s.grants.Token(r.Context(), *gc, req)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	s.issued(w, c.cfg.ID, res)
	s.writeTokens(w, res, req.DPoPJKT != "")
}

func tokenParamRepeatable(k string) bool { return k == "resource" }

// tokenRequest reads a token request's parameters into plain values.
func tokenRequest(p oauth.Form) (grant.TokenRequest, *oauth.Error) {
	var req grant.TokenRequest
	var ok bool
	if req.GrantType, ok = p.Get("grant_type"); !ok {
		return req, oauth.InvalidRequest("missing grant_type")
	}
	req.Narrow = requestFromParams(p)
	req.Code, _ = p.Get("code")
	req.RedirectURI, req.RedirectURIGiven = p.Get("redirect_uri")
	req.CodeVerifier, req.CodeVerifierGiven = p.Get("code_verifier")
	req.RefreshToken, _ = p.Get("refresh_token")
	req.SubjectToken, _ = p.Get("subject_token")
	req.SubjectTokenType, _ = p.Get("subject_token_type")
	req.ActorToken, _ = p.Get("actor_token")
	req.ActorTokenType, _ = p.Get("actor_token_type")
	req.RequestedTokenType, _ = p.Get("requested_token_type")
	return req, nil
}

// issued records an issued access token: the access log's outcome, the
// metrics and the usage counts (every grant goes through here).
func (s *Server) issued(w http.ResponseWriter, clientID string, res grant.Result) {
	setOutcome(w, res.Grant.Audience.String())
	s.metrics.issued.WithLabelValues(clientID, res.GrantType, audLabel(res.Grant.Audience)).Inc()
	s.usage.count(clientID, res.Grant.Audience, res.Access.IssuedAt)
}

// writeTokens writes the RFC 6749 §5.1 body. An access token alone (the
// client_credentials hot path) is written without reflection: the token is
// base64url and the scope passed the RFC 6749 §3.3 character check, so
// neither needs JSON escaping.
func (s *Server) writeTokens(w http.ResponseWriter, res grant.Result, bound bool) {
	typ := "Bearer"
	if bound {
		typ = "DPoP" // RFC 9449 §5
	}
	ttl := int64(s.minter.TTL().Seconds())
	if res.GrantType == oauth.GrantTokenExchange {
		// An exchanged token may live less than the TTL: its subject
		// token's exp caps it.
		ttl = int64(res.Access.ExpiresAt.Sub(res.Access.IssuedAt).Seconds())
	}
	if res.IDToken != "" || res.Refresh != "" || res.GrantType == oauth.GrantTokenExchange {
		resp := oauth.TokenResponse{AccessToken: res.Access.Token, TokenType: typ,
			ExpiresIn: ttl, Scope: res.Grant.Scope, RefreshToken: res.Refresh, IDToken: res.IDToken}
		if res.GrantType == oauth.GrantTokenExchange {
			resp.IssuedTokenType = oauth.TokenTypeAccessToken // RFC 8693 §2.2.1
		}
		b, err := jsonMarshal(resp)
		if err != nil {
			http.Error(w, "server error", http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, b)
		return
	}
	b := make([]byte, 0, len(res.Access.Token)+128)
	b = append(b, `{"access_token":"`...)
	b = append(b, res.Access.Token...)
	b = append(b, `","token_type":"`...)
	b = append(b, typ...)
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, ttl, 10)
	if scope := res.Grant.Scope; scope != "" && !strings.ContainsAny(scope, `"\`) {
		b = append(b, `,"scope":"`...)
		b = append(b, scope...)
		b = append(b, '"')
	}
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}
