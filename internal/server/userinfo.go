package server

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/oauth"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// handleUserInfo is OIDC Core §5.3: GET or POST with the user's access
// token as a Bearer header (RFC 6750 §2.1) or, in a POST, as a form
// parameter (§2.2). The token must be one of ours,
// unrevoked, for a user, and carry the openid scope; the claims released
// follow the token's scopes.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	tok, dpop, status, problem := userinfoToken(r)
	if problem != "" || tok == "" {
		s.userinfoError(w, status, problem, "send the access token once: in an Authorization: Bearer (or DPoP) header, or as access_token in a form-encoded POST body", dpop)
		return
	}
	claims, clientID, ue := s.userinfoClaims(r, tok, dpop)
	if ue != nil {
		s.userinfoError(w, ue.status, ue.code, ue.desc, ue.dpop || dpop)
		return
	}
	setClient(w, clientID)
	body, err := json.Marshal(claims)
	if err != nil {
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// userinfoRefusal is an RFC 6750 §3 refusal of a UserInfo request.
type userinfoRefusal struct {
	status     int
	code, desc string
	// dpop: answer with a DPoP challenge (RFC 9449 §7.1).
	dpop bool
}

// userinfoClaims checks the access token and returns the user's claims
// its scopes release, and the client it was issued to.
func (s *Server) userinfoClaims(r *http.Request, tok string, dpop bool) (map[string]any, string, *userinfoRefusal) {
	claims, ok := s.parseAccessToken(tok)
	if !ok || s.accessRevoked(r, claims) {
		return nil, "", &userinfoRefusal{http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked", false}
	}
	if ue := s.userinfoBinding(r, tok, claims, dpop); ue != nil {
		return nil, "", ue
	}
	// UserInfo is the client's own resource at the issuer: only a token
	// whose audience still names the client is good here, so a token
	// narrowed to an API (and perhaps replayed by it) is not.
	if !claims.Audience.Contains(claims.ClientID) || claims.Subject == claims.ClientID {
		return nil, "", &userinfoRefusal{http.StatusUnauthorized, "invalid_token", "the access token is not meant for the client's userinfo: its aud must name the client and its sub a user", false}
	}
	scopes := oauth.SplitScope(claims.Scope)
	if !slices.Contains(scopes, "openid") {
		return nil, "", &userinfoRefusal{http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope", false}
	}
	p, err := s.people.Person(r.Context(), claims.Subject, false)
	if err != nil {
		return nil, "", &userinfoRefusal{http.StatusUnauthorized, "invalid_token", "the token's subject is not a user, or is disabled", false}
	}
	out := grant.ReleasedClaims(p.Claims, scopes)
	if c := s.grants.Client(claims.ClientID); c != nil {
		if groups := grant.GroupsClaim(c, p.Groups); groups != nil {
			out["groups"] = groups
		}
	}
	out["sub"] = claims.Subject
	return out, claims.ClientID, nil
}

// userinfoError answers per RFC 6750 §3: a challenge, and for an error
// its code and description also as JSON. An empty code is the bare
// challenge of a request that sent no token.
func (s *Server) userinfoError(w http.ResponseWriter, status int, code, desc string, dpop bool) {
	v := `Bearer realm="` + s.issuer + `"`
	if dpop {
		v = `DPoP algs="` + strings.Join(dpopAlgs, " ") + `", realm="` + s.issuer + `"`
	}
	if code != "" {
		v += `, error="` + code + `", error_description="` + desc + `"`
	}
	if code == "insufficient_scope" {
		v += `, scope="openid"`
	}
	w.Header().Set("WWW-Authenticate", v)
	setOutcome(w, code)
	var body []byte
	if code != "" {
		body, _ = json.Marshal(map[string]string{"error": code, "error_description": desc})
	}
	writeJSON(w, status, body)
}

// userinfoToken finds the access token of a UserInfo request: in the
// Authorization header (RFC 6750 §2.1) or, for a form-encoded POST, in
// the body's access_token (§2.2) — never both (§2). Without any it
// returns no problem, so the caller answers with a bare challenge (§3.1).
func userinfoToken(r *http.Request) (tok string, dpop bool, status int, problem string) {
	var body []string
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return "", false, http.StatusBadRequest, "invalid_request"
			}
			body = r.PostForm["access_token"]
		}
	}
	authz := r.Header.Values("Authorization")
	switch {
	case len(authz) == 0 && len(body) == 0:
		return "", false, http.StatusUnauthorized, ""
	case len(authz)+len(body) > 1:
		return "", false, http.StatusBadRequest, "invalid_request"
	case len(body) == 1:
		if body[0] == "" {
			return "", false, http.StatusBadRequest, "invalid_request"
		}
		return body[0], false, 0, ""
	}
	if scheme, rest, ok := strings.Cut(authz[0], " "); ok && strings.EqualFold(scheme, "DPoP") {
		// RFC 9449 §7.1: the token68 after the scheme, as with Bearer.
		if rest == "" || strings.ContainsAny(rest, " \t,") {
			return "", true, http.StatusBadRequest, "invalid_request"
		}
		return rest, true, 0, ""
	}
	tok, herr := httpauth.BearerToken(r.Header)
	if herr != nil {
		return "", false, herr.Status, string(herr.Code)
	}
	return tok, false, 0, ""
}

// accessRevoked consults the store for user tokens. It fails closed: a
// store error counts as revoked.
func (s *Server) accessRevoked(r *http.Request, c *oauth.AccessClaims) bool {
	revoked, err := s.store.AccessRevoked(r.Context(), c.JTI, s.now())
	if err != nil {
		s.log.Error("revocation lookup failed", "error", err)
		return true
	}
	return revoked
}
