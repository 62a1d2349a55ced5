package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// readForm enforces what RFC 6749 §3.2 and §4.4.2 ask of a token or
// introspection request before any parameter is looked at: POST, a form
// body no larger than maxBodyBytes, and nothing in the query string (which
// ends up in logs and proxies).
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, repeatable func(string) bool) (oauth.Form, *oauth.Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		e := oauth.InvalidRequest("use POST with an application/x-www-form-urlencoded body")
		e.Status = http.StatusMethodNotAllowed
		return oauth.Form{}, e
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			e := oauth.InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
			e.Status = http.StatusUnsupportedMediaType
			return oauth.Form{}, e
		}
	}
	if r.URL.RawQuery != "" {
		return oauth.Form{}, oauth.InvalidRequest("send parameters in the request body, not the query string")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e := oauth.InvalidRequest("request body larger than " + strconv.Itoa(maxBodyBytes) + " bytes")
			e.Status = http.StatusRequestEntityTooLarge
			return oauth.Form{}, e
		}
		return oauth.Form{}, oauth.InvalidRequest("could not read the request body")
	}
	return oauth.ParseForm(string(body), repeatable)
}

// requestFromParams is the part of a token request that shapes the grant;
// the token endpoint and /admin/explain read it the same way.
func requestFromParams(p oauth.Form) policy.Request {
	var req policy.Request
	req.Resources = p.All("resource")
	req.Audience, _ = p.Get("audience")
	req.Scope, req.ScopeGiven = p.Get("scope")
	return req
}
