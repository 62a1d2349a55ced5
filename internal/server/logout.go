package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

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
	hintSub, hintSID := "", ""
	if hint := q.Get("id_token_hint"); hint != "" {
		sub, aud, sid, ok := s.parseIDTokenHint(hint)
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
		clientID, hintSub, hintSID = aud, sub, sid
	}
	target := q.Get("post_logout_redirect_uri")
	c := s.clients[clientID]
	if target != "" && (c == nil || !slices.Contains(c.cfg.PostLogoutRedirectURIs, target)) {
		s.errorPage(w, http.StatusBadRequest, "Sign-out request not valid",
			"post_logout_redirect_uri is not registered for this application.",
			"The application must list it in post_logout_redirect_uris and send client_id or id_token_hint.")
		return
	}
	name := ""
	if c != nil {
		name = c.cfg.Name
	}
	if sess := s.currentSession(r); sess != nil {
		// Sign out at once only when the request proves it comes from the
		// person's own application: an ID token of this very session.
		// Otherwise ask (RP-Initiated Logout §2), so that a link or image
		// on another site cannot sign anyone out.
		proven := hintSub == sess.Subject && hintSID == sidOf(sess.ID)
		confirmed := r.Method == http.MethodPost && r.PostForm.Get(web.FieldConfirm) == "yes" && s.validCSRF(r)
		if !proven && !confirmed {
			d := web.LogoutConfirmData{Action: s.issuer + pathLogout, CSRFToken: s.csrfToken(w, r),
				Username: sess.Subject, ClientName: name}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
				if v := q.Get(k); v != "" {
					d.Hidden = append(d.Hidden, web.HiddenField{Name: k, Value: v})
				}
			}
			setOutcome(w, "logout_confirm")
			s.pages.LogoutConfirm(w, d)
			return
		}
		ctx := r.Context()
		if _, err := s.store.RevokeFamiliesBySession(ctx, sess.ID, s.now()); err != nil {
			s.log.Error("logout: revoking the session's refresh tokens", "error", err)
		}
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
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
	s.pages.LoggedOut(w, web.LoggedOutData{ClientName: name})
}
