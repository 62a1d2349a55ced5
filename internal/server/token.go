package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// readForm enforces what RFC 6749 §3.2 and §4.4.2 ask of a token or
// introspection request before any parameter is looked at: POST, a form
// body no larger than maxBodyBytes, and nothing in the query string (which
// ends up in logs and proxies).
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, repeatable func(string) bool) (params, *oauth.Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		e := oauth.InvalidRequest("use POST with an application/x-www-form-urlencoded body")
		e.Status = http.StatusMethodNotAllowed
		return params{}, e
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			e := oauth.InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
			e.Status = http.StatusUnsupportedMediaType
			return params{}, e
		}
	}
	if r.URL.RawQuery != "" {
		return params{}, oauth.InvalidRequest("send parameters in the request body, not the query string")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e := oauth.InvalidRequest("request body larger than " + strconv.Itoa(maxBodyBytes) + " bytes")
			e.Status = http.StatusRequestEntityTooLarge
			return params{}, e
		}
		return params{}, oauth.InvalidRequest("could not read the request body")
	}
	return parseForm(string(body), repeatable)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	p, oe := s.readForm(w, r, tokenParamRepeatable)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	grantType, ok := p.get("grant_type")
	if !ok {
		s.writeError(w, r, oauth.InvalidRequest("missing grant_type"))
		return
	}
	c, oe := s.authenticateClient(w, r, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	switch grantType {
	case oauth.GrantClientCredentials:
		s.clientCredentialsGrant(w, r, c, p)
	case oauth.GrantAuthorizationCode:
		s.authorizationCodeGrant(w, r, c, p)
	case oauth.GrantRefreshToken:
		s.refreshTokenGrant(w, r, c, p)
	default:
		s.writeError(w, r, oauth.UnsupportedGrantType("grant_type '"+safeName(grantType)+"' is not supported; use client_credentials, authorization_code or refresh_token"))
	}
}

// clientCredentialsGrant is RFC 6749 §4.4 with the audience rules of
// internal/policy; sub is the client itself (RFC 9068 §2.2). The decision
// is policy.Model.ClientCredentials, the same call /admin/explain and
// `gatehouse audit --explain` make.
func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, c *clientEntry, p params) {
	id := c.cfg.ID
	g, oe := s.model.ClientCredentials(id, requestFromParams(p))
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	m, err := s.minter.AccessToken(issue.Access{Subject: id, ClientID: id, Grant: g})
	if err != nil {
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	s.issued(w, id, oauth.GrantClientCredentials, g, m)
	s.writeTokenResponse(w, m, g.Scope)
}

// issued records an issued access token: the access log's outcome, the
// metrics and the usage counts (every grant goes through here).
func (s *Server) issued(w http.ResponseWriter, clientID, grant string, g policy.Grant, m issue.Minted) {
	setOutcome(w, g.Audience.String())
	s.metrics.issued.WithLabelValues(clientID, grant, audLabel(g.Audience)).Inc()
	s.usage.count(clientID, g.Audience, m.IssuedAt)
}

// requestFromParams is the part of a token request that shapes the grant;
// the token endpoint and /admin/explain read it the same way.
func requestFromParams(p params) policy.Request {
	var req policy.Request
	req.Resources = p.all("resource")
	req.Audience, _ = p.get("audience")
	req.Scope, req.ScopeGiven = p.get("scope")
	return req
}

// writeTokenResponse writes the RFC 6749 §5.1 body without reflection: the
// token is base64url and the scope passed the RFC 6749 §3.3 character check,
// so neither needs JSON escaping.
func (s *Server) writeTokenResponse(w http.ResponseWriter, m issue.Minted, scope string) {
	b := make([]byte, 0, len(m.Token)+128)
	b = append(b, `{"access_token":"`...)
	b = append(b, m.Token...)
	b = append(b, `","token_type":"Bearer","expires_in":`...)
	b = strconv.AppendInt(b, int64(s.minter.TTL().Seconds()), 10)
	if scope != "" && !strings.ContainsAny(scope, `"\`) {
		b = append(b, `,"scope":"`...)
		b = append(b, scope...)
		b = append(b, '"')
	}
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}
