package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// explainParamRepeatable: only RFC 8707 "resource" repeats, as at the
// token endpoint.
func explainParamRepeatable(k string) bool { return k == "resource" }

// handleExplain answers POST /admin/explain: what a client_credentials
// request of the client named by client_id, with the given resource,
// audience and scope (and, for grant_type=authorization_code, the groups
// of the person), would get and why (policy.Model.Explain, the same
// decision the token endpoint makes). The caller authenticates with HTTP
// Basic as a client listed under admins:; client_id in the body names the
// client to explain, not the caller, so client_secret_post is not
// possible here.
//
// An explained refusal is still a successful explanation: it is answered
// 200 with the RFC 6749 §5.2 error fields (and the status the token
// endpoint would use) in the body, so a caller can tell it from a refusal
// of its own request.
func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	p, oe := s.readForm(w, r, explainParamRepeatable)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	subject, oe := s.authorizeExplain(w, r, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	x, oe := s.explain(subject, p)
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	b, err := json.Marshal(x)
	if err != nil {
		s.writeError(w, r, oauth.ServerError(err))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// explain runs the decision the form's grant_type names; groups
// (space-separated) explains an authorization request for a person in
// them, with the only_groups rules applied as at sign-in.
func (s *Server) explain(subject string, p oauth.Form) (policy.Explanation, *oauth.Error) {
	switch gt, _ := p.Get("grant_type"); gt {
	case "", oauth.GrantClientCredentials:
		return s.model.Explain(subject, requestFromParams(p)), nil
	case oauth.GrantAuthorizationCode:
		if groups, ok := p.Get("groups"); ok {
			return s.model.ExplainAuthorizationFor(subject, requestFromParams(p), oauth.SplitScope(groups)), nil
		}
		return s.model.ExplainAuthorization(subject, requestFromParams(p)), nil
	}
	return policy.Explanation{}, oauth.InvalidRequest("grant_type must be client_credentials (default) or authorization_code")
}

// authorizeExplain authenticates the caller as an admin client with HTTP
// Basic and returns the client whose request is to be explained.
func (s *Server) authorizeExplain(w http.ResponseWriter, r *http.Request, p oauth.Form) (string, *oauth.Error) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		return "", oauth.InvalidClient("authenticate as an admin client with HTTP Basic; client_id in the body names the client to explain")
	}
	if _, has := p.Get("client_secret"); has {
		return "", oauth.InvalidRequest("do not send client_secret in the body: authenticate with HTTP Basic")
	}
	subject, ok := p.Get("client_id")
	if !ok {
		return "", oauth.InvalidRequest("missing client_id: name the client whose token request to explain")
	}
	admin, oe := s.authenticateClient(w, r, oauth.Form{})
	switch {
	case oe != nil:
		return "", oe
	case !s.admins[admin.cfg.ID]:
		return "", oauth.AccessDenied("client '" + admin.cfg.ID + "' is not listed under admins: in the configuration")
	case s.clients[subject] == nil:
		return "", oauth.InvalidRequest("there is no client '" + oauth.SafeName(subject) + "' in the configuration")
	}
	return subject, nil
}
