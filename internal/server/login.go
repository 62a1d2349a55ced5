package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/web"
)

// Lifetimes of browser state.
const (
	sessionTTL = 12 * time.Hour
	codeTTL    = 60 * time.Second
)

// The per-user lockout that holds across instances. Each instance also
// keeps its own in-memory limiters (loginByUser, loginByIP: see New), which
// reserve a try before the password is hashed and so bound how many
// guesses run at once on one instance; this count, kept in the shared
// store, bounds the total over every instance: a guesser who spreads
// attempts over N instances still gets loginFailureLimit per window, not N
// times that (plus at most what is in flight when the limit is reached).
const (
	// loginFailureLimit failed sign-ins of one username within
	// loginFailureWindow lock it: further attempts, even with the right
	// password, get the locked page (429) until the oldest failure leaves
	// the window. A successful sign-in clears the count.
	loginFailureLimit  = 5
	loginFailureWindow = 5 * time.Minute
	// maxThrottledUsername caps the bytes of a username that reach the
	// throttle key, so an attacker's megabyte-long name costs no more to
	// hash than a real one. Longer names share their prefix's count.
	maxThrottledUsername = 256
	// loginNoteTimeout bounds recording a failure after the client has
	// hung up (see handleLogin).
	loginNoteTimeout = 5 * time.Second
)

// loginThrottleKey is the store key that counts username's failures: a
// SHA-256 of the capped username, so the shared table never lists account
// names (often e-mail addresses) and every key has one length. The issuer
// is mixed in, so two deployments sharing a database do not share counts;
// every instance of one deployment has the same issuer and so the same
// key. Unknown usernames get a key like any other: the lock must not
// reveal which users exist.
func (s *Server) loginThrottleKey(username string) string {
	if len(username) > maxThrottledUsername {
		username = username[:maxThrottledUsername]
	}
	h := sha256.New()
	h.Write([]byte("gatehouse login throttle\x00"))
	h.Write([]byte(s.issuer))
	h.Write([]byte{0})
	h.Write([]byte(username))
	return hex.EncodeToString(h.Sum(nil))
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1; OIDC Core
// §3.1.2.1 requires GET and POST). A POST carrying a CSRF token is a step
// of our own login or consent form; any other POST is an authorization
// request sent as a form.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.startAuth(w, r, r.URL.RawQuery)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, http.StatusBadRequest, "This request cannot be read", "The form could not be read.", "")
			return
		}
		if _, ok := r.PostForm[web.FieldCSRFToken]; ok {
			s.handleAuthForm(w, r)
			return
		}
		s.startAuth(w, r, r.PostForm.Encode())
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Method not allowed", "Use GET or POST.", "")
	}
}

// startAuth runs a fresh authorization request.
func (s *Server) startAuth(w http.ResponseWriter, r *http.Request, raw string) {
	req, ae := s.parseAuthRequest(raw)
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	setClient(w, req.client.cfg.ID)
	s.continueAuth(w, r, req, s.currentSession(r))
}

// continueAuth moves req on from the session the browser has: to the
// login page when that session does not satisfy what the request requires,
// otherwise on to consent or the code.
func (s *Server) continueAuth(w http.ResponseWriter, r *http.Request, req *authRequest, sess *store.Session) {
	if why := s.loginNeeded(req, sess); why != "" {
		if req.prompt["none"] {
			s.failAuth(w, r, req, redirectErr(&oauth.Error{Code: oauth.CodeLoginRequired, Description: why + " (prompt=none)"}))
			return
		}
		hint := req.loginHint
		if hint == "" {
			hint = req.hintSubject
		}
		s.showLogin(w, r, req, http.StatusOK, hint, "", false)
		return
	}
	s.afterLogin(w, r, req, sess, false)
}

// loginNeeded says why sess cannot serve req without a new sign-in (OIDC
// Core §3.1.2.1: prompt, max_age, id_token_hint), or "" when it can.
func (s *Server) loginNeeded(req *authRequest, sess *store.Session) string {
	switch {
	case sess == nil:
		return "the user is not signed in"
	case req.prompt["login"] || req.prompt["select_account"]:
		return "the request asks for a new sign-in"
	case req.maxAge >= 0 && s.now().Sub(sess.AuthTime) > time.Duration(req.maxAge)*time.Second:
		return "the sign-in is older than max_age"
	case req.hintSubject != "" && req.hintSubject != sess.Subject:
		return "the signed-in user is not the one id_token_hint names"
	}
	return ""
}

// afterLogin runs once the session satisfies the request's authentication
// requirements: it asks for consent when needed and then issues the code.
// consented is true when the person has just answered the consent page.
func (s *Server) afterLogin(w http.ResponseWriter, r *http.Request, req *authRequest, sess *store.Session, consented bool) {
	if req.hintSubject != "" && req.hintSubject != sess.Subject {
		// Signed in, but as someone else than the application asked for.
		s.failAuth(w, r, req, redirectErr(&oauth.Error{Code: oauth.CodeLoginRequired,
			Description: "the signed-in user is not the one id_token_hint names"}))
		return
	}
	if !consented && !req.client.cfg.FirstParty {
		covered := false
		if !req.prompt["consent"] {
			c, err := s.store.GetConsent(r.Context(), sess.Subject, req.client.cfg.ID)
			switch {
			case err == nil:
				covered = subset(req.grant.Scopes, c.Scopes) && subset(req.grant.Audience, c.Audience)
			case !errors.Is(err, store.ErrNotFound):
				s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
				return
			}
		}
		if !covered {
			if req.prompt["none"] {
				s.failAuth(w, r, req, redirectErr(&oauth.Error{Code: oauth.CodeConsentRequired, Description: "the user has not consented to this client (prompt=none)"}))
				return
			}
			s.showConsent(w, r, req, sess)
			return
		}
	}
	s.issueCode(w, r, req, sess)
}

func subset(want, have []string) bool {
	for _, v := range want {
		if !slices.Contains(have, v) {
			return false
		}
	}
	return true
}

// handleAuthForm handles the login and consent forms.
func (s *Server) handleAuthForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.PostForm[web.FieldDecision]; ok {
		s.handleConsent(w, r)
		return
	}
	// The login form is the one form posted before a session exists, so
	// its CSRF token is the plain double-submit value.
	if !s.validCSRF(r, nil) {
		s.formExpired(w)
		return
	}
	req, ae := s.parseAuthRequest(r.PostForm.Get(web.FieldRequestID))
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	setClient(w, req.client.cfg.ID)
	s.handleLogin(w, r, req)
}

func (s *Server) formExpired(w http.ResponseWriter) {
	s.errorPage(w, http.StatusForbidden, "This form has expired",
		"The sign-in form could not be verified (its security token is missing or does not match).",
		"Go back to the application and start signing in again.")
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, req *authRequest) {
	username := r.PostForm.Get(web.FieldUsername)
	password := r.PostForm.Get(web.FieldPassword)
	now := s.now()
	// Both tries are reserved before the password is hashed, so a burst of
	// concurrent attempts cannot slip past the limits while hashing.
	byUser, okUser, _ := s.loginByUser.begin(username, now)
	byIP, okIP, _ := s.loginByIP.begin(s.clientIP(r), now)
	// giveBack returns both reservations: when nothing was tried, or the
	// password was right.
	giveBack := func() {
		byUser.succeeded()
		byIP.succeeded()
	}
	if !okUser || !okIP {
		giveBack()
		setOutcome(w, "locked")
		s.showLogin(w, r, req, http.StatusTooManyRequests, username, "", true)
		return
	}
	// The count across instances is checked before the password is hashed:
	// a locked user costs no hashing, and the right password cannot be
	// confirmed while locked. A store error fails closed: without the
	// count the lockout cannot be enforced.
	key := s.loginThrottleKey(username)
	failures, err := s.store.LoginFailures(r.Context(), key, now.Add(-loginFailureWindow))
	if err != nil {
		giveBack()
		s.loginUnavailable(w, "counting failed sign-ins", err)
		return
	}
	if failures >= loginFailureLimit {
		giveBack()
		setOutcome(w, "locked")
		s.showLogin(w, r, req, http.StatusTooManyRequests, username, "", true)
		return
	}
	// Every refusal takes as long as a check of the slowest hash in use
	// (secret.Floor): the time does not tell which usernames exist.
	u := s.users[username]
	ok := false
	if u == nil || len(password) > 1024 {
		s.passwordFloor.Pad(r.Context(), time.Now())
	} else {
		ok = s.passwordFloor.Check(r.Context(), u.check, u.set, password)
	}
	if !ok {
		// Recorded even if the client has hung up meanwhile: otherwise
		// closing the connection as the hash finishes would make a
		// guess free. The reservations stay taken: a password was tried.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), loginNoteTimeout)
		err := s.store.NoteLoginFailure(ctx, key, now)
		cancel()
		if err != nil {
			s.loginUnavailable(w, "recording a failed sign-in", err)
			return
		}
		setOutcome(w, "login_failed")
		s.showLogin(w, r, req, http.StatusUnauthorized, username, "Wrong username or password.", false)
		return
	}
	giveBack()
	// Fails closed like the count: a store that cannot clear is not one to
	// write the session to next, and a count left standing would lock the
	// user out early after a few later typos.
	if err := s.store.ClearLoginFailures(r.Context(), key); err != nil {
		s.loginUnavailable(w, "clearing failed sign-ins", err)
		return
	}
	token, hash, err := issue.NewOpaque()
	if err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	sess := store.Session{ID: hash, Subject: username, AuthTime: now.Truncate(time.Second), CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	http.SetCookie(w, s.cookie(s.sessionCookie, token, sessionTTL))
	s.afterLogin(w, r, req, &sess, false)
}

// loginUnavailable refuses a sign-in because the store could not count,
// record or clear failed sign-ins. The lockout cannot be enforced without
// it, so the login fails closed; the page is the same for every username.
func (s *Server) loginUnavailable(w http.ResponseWriter, what string, err error) {
	s.log.Error("login throttle: "+what, "error", err)
	setOutcome(w, "store_error")
	s.errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable",
		"Your sign-in could not be checked right now.", "Wait a moment and try again.")
}

// handleConsent takes the consent page's answer. Its request_id is the
// ticket afterLogin signed (ticket.go): only a ticket of this session, made
// after the authentication the request required, leads to a code. Any
// other state of the session restarts the request where it now stands.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	t, err := s.openTicket(r.PostForm.Get(web.FieldRequestID))
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "This consent form is no longer valid",
			"The consent page was answered too late, or it did not come from this server.",
			"Go back to the application and start signing in again.")
		return
	}
	sess := s.currentSession(r)
	if sess != nil && !s.validCSRF(r, sess) {
		s.formExpired(w)
		return
	}
	req, ae := s.parseAuthRequest(t.Request)
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	setClient(w, req.client.cfg.ID)
	if sess == nil || !t.bound(sess) {
		// Signed out, or signed in again, since the page was shown.
		s.continueAuth(w, r, req, sess)
		return
	}
	if r.PostForm.Get(web.FieldDecision) != web.DecisionAllow {
		s.failAuth(w, r, req, redirectErr(oauth.AccessDenied("the user declined the request")))
		return
	}
	c := store.Consent{Subject: sess.Subject, ClientID: req.client.cfg.ID, Scopes: req.grant.Scopes,
		Audience: req.grant.Audience, GrantedAt: s.now()}
	if old, err := s.store.GetConsent(r.Context(), sess.Subject, req.client.cfg.ID); err == nil {
		// Consent accumulates: approving a narrower request keeps what was
		// approved before.
		c.Scopes = union(old.Scopes, c.Scopes)
		c.Audience = union(old.Audience, c.Audience)
	}
	if err := s.store.PutConsent(r.Context(), c); err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	s.afterLogin(w, r, req, sess, true)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// issueCode stores a single-use code bound to everything the token
// endpoint must check, and redirects back to the client.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, sess *store.Session) {
	code, hash, err := issue.NewOpaque()
	if err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	now := s.now()
	method := ""
	if req.challenge != "" {
		method = "S256"
	}
	// A redirect_uri the request did not name is not stored: the token
	// request then need not send it (RFC 6749 §4.1.3).
	redirect := ""
	if req.redirectGiven {
		redirect = req.redirectURI
	}
	c := store.AuthCode{
		Hash: hash, ClientID: req.client.cfg.ID, RedirectURI: redirect,
		CodeChallenge: req.challenge, CodeChallengeMethod: method, Nonce: req.nonce,
		Subject: sess.Subject, Scopes: req.grant.Scopes, Audience: req.grant.Audience,
		IDTokenClaims: req.idTokenClaims, AuthTime: sess.AuthTime, SessionID: sess.ID, CreatedAt: now, ExpiresAt: now.Add(codeTTL),
	}
	if err := s.store.CreateCode(r.Context(), c); err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	setOutcome(w, "code")
	s.redirectWith(w, r, req, url.Values{"code": {code}})
}

// currentSession returns the signed-in session, or nil.
func (s *Server) currentSession(r *http.Request) *store.Session {
	c, err := r.Cookie(s.sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil
	}
	sess, err := s.store.GetSession(r.Context(), issue.HashOpaque(c.Value), s.now())
	if err != nil {
		return nil
	}
	if s.users[sess.Subject] == nil { // the user was removed from the configuration
		return nil
	}
	return &sess
}

func (s *Server) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secureCookies, SameSite: http.SameSiteLaxMode}
}

// expiredCookie deletes a cookie: Max-Age=0 and an Expires in the past,
// so no browser keeps an empty cookie around.
func (s *Server) expiredCookie(name string) *http.Cookie {
	c := s.cookie(name, "", 0)
	c.MaxAge = -1 // net/http writes Max-Age=0
	c.Expires = time.Unix(0, 0)
	return c
}

// csrfToken returns the CSRF token for a form. The browser gets a random
// cookie once (stateless, so any instance behind a load balancer can
// check it); a form shown inside a session (consent, logout) carries a
// token bound to that session as well, so a cookie planted by another
// site or a sibling domain cannot forge it: that needs the session's ID,
// which only the server knows. The login form, posted before any session
// exists, carries the plain double-submit value (sess nil).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, sess *store.Session) string {
	v := ""
	if c, err := r.Cookie(s.csrfCookie); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, s.cookie(s.csrfCookie, v, sessionTTL))
	}
	if sess == nil {
		return v
	}
	return sessionBinding("csrf\x00"+v, sess.ID)
}

// validCSRF checks a posted form's token against the cookie and, for a
// form shown inside a session, against that session (see csrfToken).
func (s *Server) validCSRF(r *http.Request, sess *store.Session) bool {
	c, err := r.Cookie(s.csrfCookie)
	if err != nil || len(c.Value) != 43 {
		return false
	}
	want := c.Value
	if sess != nil {
		want = sessionBinding("csrf\x00"+c.Value, sess.ID)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(r.PostForm.Get(web.FieldCSRFToken))) == 1
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req *authRequest, status int, username, msg string, locked bool) {
	s.pages.Login(w, status, web.LoginData{
		Action: s.issuer + pathAuthorize, CSRFToken: s.csrfToken(w, r, nil), RequestID: req.raw,
		ClientName: req.client.cfg.Name, ClientID: req.client.cfg.ID,
		Username: username, Error: msg, Locked: locked,
	})
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req *authRequest, sess *store.Session) {
	ticket, err := s.newTicket(req.raw, sess)
	if err != nil {
		s.failAuth(w, r, req, redirectErr(oauth.ServerError(err)))
		return
	}
	d := web.ConsentData{
		Action: s.issuer + pathAuthorize, CSRFToken: s.csrfToken(w, r, sess), RequestID: ticket,
		ClientName: req.client.cfg.Name, ClientID: req.client.cfg.ID, Username: sess.Subject,
		OfflineAccess: req.hasScope("offline_access"),
	}
	for _, sc := range req.grant.Scopes {
		d.Scopes = append(d.Scopes, web.Item{ID: sc, Name: sc})
	}
	for _, a := range req.grant.Audience {
		if a == req.client.cfg.ID {
			continue
		}
		d.Audiences = append(d.Audiences, s.describeAudience(a))
	}
	setOutcome(w, "consent")
	s.pages.Consent(w, d)
}

// describeAudience names an audience value for people: a client's name, or
// an external audience's description.
func (s *Server) describeAudience(id string) web.Item {
	if c := s.clients[id]; c != nil && c.cfg.Name != "" {
		return web.Item{ID: id, Name: c.cfg.Name}
	}
	for _, e := range s.cfg.ExternalAudiences {
		if e.ID == id && e.Description != "" {
			return web.Item{ID: id, Name: e.Description}
		}
	}
	return web.Item{ID: id, Name: id}
}

func (s *Server) errorPage(w http.ResponseWriter, status int, title, msg, hint string) {
	s.pages.Error(w, status, web.ErrorData{Title: title, Message: msg, Hint: hint})
}
