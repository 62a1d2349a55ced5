package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/web"
)

// handleLogout is OpenID Connect RP-Initiated Logout 1.0. It ends the
// browser session and revokes the refresh tokens obtained in it, then
// returns to a registered post_logout_redirect_uri (with state) or shows
// the signed-out page. An unregistered URI is never followed.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "This request cannot be read", "The logout request could not be read.", "")
		return
	}
	q := r.Form
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		_, aud, _, ok := s.parseIDTokenHint(hint)
		if !ok {
			s.errorPage(w, http.StatusBadRequest, "Sign-out request not valid",
				"The id_token_hint was not issued by this server.", "Go back to the application and sign out again.")
			return
		}
		if clientID != "" && clientID != aud {
			s.errorPage(w, http.StatusBadRequest, "Sign-out request not valid",
				"client_id does not match the id_token_hint.", "")
			return
		}
		clientID = aud
	}
	target := q.Get("post_logout_redirect_uri")
	c := s.clients[clientID]
	if target != "" && (c == nil || !slices.Contains(c.cfg.PostLogoutRedirectURIs, target)) {
		s.errorPage(w, http.StatusBadRequest, "Sign-out request not valid",
			"post_logout_redirect_uri is not registered for this application.",
			"The application must list it in post_logout_redirect_uris and send client_id or id_token_hint.")
		return
	}
	if ck, err := r.Cookie(s.sessionCookie); err == nil && ck.Value != "" && len(ck.Value) <= 128 {
		id := issue.HashOpaque(ck.Value)
		ctx := r.Context()
		if _, err := s.store.RevokeFamiliesBySession(ctx, id, s.now()); err != nil {
			s.log.Error("logout: revoking the session's refresh tokens", "error", err)
		}
		if err := s.store.DeleteSession(ctx, id); err != nil {
			s.log.Error("logout: deleting the session", "error", err)
		}
	}
	http.SetCookie(w, s.cookie(s.sessionCookie, "", -1))
	setOutcome(w, "logged_out")
	if target != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		if st := q.Get("state"); st != "" {
			target += sep + url.Values{"state": {st}}.Encode()
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	name := ""
	if c != nil {
		name = c.cfg.Name
	}
	s.pages.LoggedOut(w, web.LoggedOutData{ClientName: name})
}
