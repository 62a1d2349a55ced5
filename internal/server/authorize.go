package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/grant"
)

// redirectWith sends the browser back to the client with params, the state
// and the issuer (RFC 9207, against mix-up attacks).
func (s *Server) redirectWith(w http.ResponseWriter, r *http.Request, req *grant.Authorization, params url.Values) {
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", s.issuer)
	u := req.RedirectURI
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u+sep+params.Encode(), http.StatusFound)
}

// failAuth delivers an authorization error the way it must be delivered:
// redirected to the client when the engine says the redirect URI can be
// trusted, shown on an error page otherwise (RFC 6749 §4.1.2.1).
func (s *Server) failAuth(w http.ResponseWriter, r *http.Request, req *grant.Authorization, ae *grant.AuthError) {
	setOutcome(w, ae.Err.Code)
	if ae.Redirect && req != nil {
		v := url.Values{"error": {ae.Err.Code}}
		if ae.Err.Description != "" {
			v.Set("error_description", ae.Err.Description)
		}
		s.redirectWith(w, r, req, v)
		return
	}
	s.errorPage(w, http.StatusBadRequest, "This sign-in request cannot be completed", ae.Err.Description,
		"Go back to the application and try again. If it keeps happening, tell the application's owner.")
}

// idTokenHintSubject is the engine's grant.HintChecker.
func (s *Server) idTokenHintSubject(tok string) (string, bool) {
	sub, _, _, ok := s.parseIDTokenHint(tok)
	return sub, ok
}
