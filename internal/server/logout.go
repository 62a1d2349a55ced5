package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/web"
)

// logoutRequest is a validated RP-Initiated Logout 1.0 request (§2).
type logoutRequest struct {
	clientName string
	target     string // a registered post_logout_redirect_uri, or ""
	state      string
	// hintSubject and hintSID come from a valid id_token_hint.
	hintSubject, hintSID string
	form                 url.Values
}

// handleLogout is OpenID Connect RP-Initiated Logout 1.0. A valid
// id_token_hint ends the session it names — by its sid, so also when the
// request carries no cookie, as a cross-site POST from the application
// does not — and revokes the refresh tokens obtained in it. A browser
// session the request does not prove is ended only after the person
// confirms, so a link or form on another site cannot sign anyone out.
// The browser then returns to a registered post_logout_redirect_uri (with
// state) or sees the signed-out page; an unregistered URI is never followed.
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
	lr, problem, hint := s.parseLogout(r.Form)
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, "Sign-out request not valid", problem, hint)
		return
	}
	sess := s.currentSession(r)
	ended := s.endHintedSession(r.Context(), lr)
	if ended == "" && r.Method == http.MethodPost && !s.hasSessionCookie(r) {
		// A cross-site POST carries no Lax cookie: nothing here says
		// whether the person is signed in, so "signed out" could be a
		// lie. The same request as a top-level GET carries the cookie
		// and gets the confirmation page when there is a session.
		s.retryLogoutAsGet(w, r, lr)
		return
	}
	if sess != nil && sess.ID != ended {
		if !s.logoutConfirmed(r, sess) {
			s.showLogoutConfirm(w, r, lr, sess)
			return
		}
		s.endSession(r.Context(), sess.ID)
	}
	s.finishLogout(w, r, lr)
}

// parseLogout checks the request's parameters. A problem is a message for
// the error page, with a hint.
func (s *Server) parseLogout(q url.Values) (lr logoutRequest, problem, hint string) {
	lr = logoutRequest{form: q, target: q.Get("post_logout_redirect_uri"), state: q.Get("state")}
	clientID := q.Get("client_id")
	if h := q.Get("id_token_hint"); h != "" {
		sub, aud, sid, ok := s.parseIDTokenHint(h)
		if !ok {
			return lr, "The id_token_hint was not issued by this server.", "Go back to the application and sign out again."
		}
		if clientID != "" && clientID != aud {
			return lr, "client_id does not match the id_token_hint.", ""
		}
		clientID, lr.hintSubject, lr.hintSID = aud, sub, sid
	}
	c := s.clients[clientID]
	if lr.target != "" && (c == nil || !slices.Contains(c.cfg.PostLogoutRedirectURIs, lr.target)) {
		return lr, "post_logout_redirect_uri is not registered for this application.",
			"The application must list it in post_logout_redirect_uris and send client_id or id_token_hint."
	}
	if c != nil {
		lr.clientName = c.cfg.Name
	}
	return lr, "", ""
}

// endHintedSession ends the session the id_token_hint names, if it is
// still live and its user's, and returns its ID ("" when none ended).
func (s *Server) endHintedSession(ctx context.Context, lr logoutRequest) string {
	if lr.hintSID == "" {
		return ""
	}
	sess, err := s.store.SessionBySID(ctx, lr.hintSID, s.now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
			s.log.Error("logout: finding the session of the id_token_hint", "error", err)
		}
		return ""
	}
	if sess.Subject != lr.hintSubject {
		return ""
	}
	s.endSession(ctx, sess.ID)
	return sess.ID
}

// endSession revokes the refresh tokens obtained in a session and deletes it.
func (s *Server) endSession(ctx context.Context, id string) {
	if _, err := s.store.RevokeFamiliesBySession(ctx, id, s.now()); err != nil {
		s.log.Error("logout: revoking the session's refresh tokens", "error", err)
	}
	if err := s.store.DeleteSession(ctx, id); err != nil {
		s.log.Error("logout: deleting the session", "error", err)
	}
}

// logoutConfirmed: the person answered the confirmation page of this
// very session.
func (s *Server) logoutConfirmed(r *http.Request, sess *store.Session) bool {
	return r.Method == http.MethodPost && r.PostForm.Get(web.FieldConfirm) == "yes" && s.validCSRF(r, sess)
}

func (s *Server) showLogoutConfirm(w http.ResponseWriter, r *http.Request, lr logoutRequest, sess *store.Session) {
	d := web.LogoutConfirmData{Action: s.issuer + pathLogout, CSRFToken: s.csrfToken(w, r, sess),
		Username: sess.Subject, ClientName: lr.clientName}
	for _, k := range logoutParams {
		if v := lr.form.Get(k); v != "" {
			d.Hidden = append(d.Hidden, web.HiddenField{Name: k, Value: v})
		}
	}
	setOutcome(w, "logout_confirm")
	s.pages.LogoutConfirm(w, d)
}

func (s *Server) hasSessionCookie(r *http.Request) bool {
	_, err := r.Cookie(s.sessionCookie)
	return err == nil
}

// retryLogoutAsGet answers 303 with the logout request's own parameters
// (RP-Initiated Logout §2 allows GET), which a browser follows as a
// top-level GET that carries the session cookie.
func (s *Server) retryLogoutAsGet(w http.ResponseWriter, r *http.Request, lr logoutRequest) {
	q := url.Values{}
	for _, k := range logoutParams {
		if v := lr.form.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.issuer+pathLogout+"?"+q.Encode(), http.StatusSeeOther)
}

// logoutParams are the parameters a logout request passes on.
var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}

// finishLogout deletes the session cookie — only when the request carried
// one: a cross-site POST carries none, and answering it with a deletion
// would sign the person out without asking — and leaves.
func (s *Server) finishLogout(w http.ResponseWriter, r *http.Request, lr logoutRequest) {
	if s.hasSessionCookie(r) {
		http.SetCookie(w, s.expiredCookie(s.sessionCookie))
	}
	setOutcome(w, "logged_out")
	if lr.target == "" {
		s.pages.LoggedOut(w, web.LoggedOutData{ClientName: lr.clientName})
		return
	}
	target := lr.target
	if lr.state != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + url.Values{"state": {lr.state}}.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}
