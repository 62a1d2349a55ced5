package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/web"
)

// Lifetimes of browser state.
const (
	sessionTTL = 12 * time.Hour
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

// loginThrottleKey is LoginThrottleKey for this server's issuer.
func (s *Server) loginThrottleKey(username string) string {
	return LoginThrottleKey(s.issuer, username)
}

// handleLogin checks a posted username and password, against the local
// users or the directory the form names: the tries are reserved and the
// lockout checked first, a refusal is recorded, a success starts a session
// and moves the authorization request on. A directory's people are locked
// out and throttled under their source-prefixed name (staff:bob), apart
// from a local user of the same name.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization) {
	username := r.PostForm.Get(web.FieldUsername)
	src, who, ok := s.loginSource(w, r, req, username)
	if !ok {
		return
	}
	now := s.now()
	try, ok := s.beginLogin(w, r, req, who, username, now)
	if !ok {
		return
	}
	subject, id, res := s.checkCredentials(r.Context(), src, username, r.PostForm.Get(web.FieldPassword))
	switch res {
	case credUnavailable:
		try.giveBack()
		s.loginUnavailable(w, "checking the password", errors.New("the account store or directory is unavailable"))
		return
	case credWrong:
		s.failLogin(w, r, req, try, who, username, now)
		return
	}
	try.giveBack()
	// Fails closed like the count: a store that cannot clear is not one to
	// write the session to next, and a count left standing would lock the
	// user out early after a few later typos. Nothing to clear, no write.
	if try.failures > 0 {
		if err := s.store.ClearLoginFailures(r.Context(), try.key); err != nil {
			s.loginUnavailable(w, "clearing failed sign-ins", err)
			return
		}
	}
	s.finishLogin(w, r, req, src, subject, id, res == credDisabled, now)
}

// loginSource is the directory the form names (nil: the local users) and
// the name the attempt is throttled under; a form naming no directory of
// this configuration is shown again.
func (s *Server) loginSource(w http.ResponseWriter, r *http.Request, req *grant.Authorization, username string) (*source, string, bool) {
	id := r.PostForm.Get(web.FieldSource)
	if id == "" {
		return nil, username, true
	}
	if src := s.sources.byID[id]; src != nil && src.directory != nil {
		return src, id + ":" + username, true
	}
	s.showLogin(w, r, req, http.StatusBadRequest, username, "Choose where your account is.", false)
	return nil, "", false
}

// finishLogin starts the session of a person whose password was right.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source, subject string, id connector.Identity, disabled bool, now time.Time) {
	switch {
	case src != nil:
		s.signInFromSource(w, r, req, src, id, passwordAMR)
	case disabled:
		s.signInEvent(r, req, "disabled", subject, "local")
		s.accountDisabled(w)
	default:
		sess, err := s.startSession(w, r, subject, passwordAMR, now)
		if err != nil {
			s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
			return
		}
		s.signInEvent(r, req, "success", subject, "local")
		s.afterLogin(w, r, req, sess, false)
	}
}

// passwordAMR is the RFC 8176 amr of a sign-in with a password.
var passwordAMR = []string{"pwd"}

// loginTry is one sign-in attempt's reservations in the per-instance
// limiters and its key in the store's count.
type loginTry struct {
	byUser, byIP attempt
	key          string
	// failures is the count in the store when the try began.
	failures int
}

// giveBack returns both reservations: when nothing was tried, or the
// password was right.
func (t loginTry) giveBack() {
	t.byUser.succeeded()
	t.byIP.succeeded()
}

// beginLogin reserves the try before the password is hashed, so a burst
// of concurrent attempts cannot slip past the limits while hashing, and
// checks the count across instances: a locked user costs no hashing, and
// the right password cannot be confirmed while locked. A store error fails
// closed. When the attempt must stop it answers itself and reports false.
func (s *Server) beginLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization, who, username string, now time.Time) (loginTry, bool) {
	var t loginTry
	var okUser, okIP bool
	t.byUser, okUser, _ = s.loginByUser.begin(who, now)
	t.byIP, okIP, _ = s.loginByIP.begin(s.clientIP(r), now)
	t.key = s.loginThrottleKey(who)
	if okUser && okIP {
		var err error
		if t.failures, err = s.store.LoginFailures(r.Context(), t.key, now.Add(-loginFailureWindow)); err != nil {
			t.giveBack()
			s.loginUnavailable(w, "counting failed sign-ins", err)
			return t, false
		}
	}
	if !okUser || !okIP || t.failures >= loginFailureLimit {
		t.giveBack()
		s.signInEvent(r, req, "locked", who, sourceName(who, username))
		setOutcome(w, "locked")
		s.showLogin(w, r, req, http.StatusTooManyRequests, username, "", true)
		return t, false
	}
	return t, true
}

// credResult is the outcome of a credential check.
type credResult int

const (
	credOK credResult = iota
	credWrong
	credDisabled
	credUnavailable
)

// checkCredentials checks username and password against src, or the local
// users when src is nil (the YAML file first, then the store). For local
// users every refusal takes as long as a check of the slowest hash in use
// (secret.Floor): the time does not tell which usernames exist. A disabled
// local user is told so only after the right password.
func (s *Server) checkCredentials(ctx context.Context, src *source, username, password string) (string, connector.Identity, credResult) {
	if src != nil {
		id, err := src.directory.Login(ctx, username, password)
		switch {
		case err == nil:
			return "", id, credOK
		case errors.Is(err, connector.ErrInvalidCredentials):
			return "", id, credWrong
		}
		s.log.Warn("directory sign-in failed", "connector", src.cfg.ID, "error", err)
		return "", id, credUnavailable
	}
	subject, res := s.checkLocal(ctx, username, password)
	return subject, connector.Identity{}, res
}

// checkLocal checks a local user's password: the YAML file's, then the
// store's.
func (s *Server) checkLocal(ctx context.Context, username, password string) (string, credResult) {
	if len(password) > 1024 {
		s.passwordFloor.Pad(ctx, time.Now())
		return "", credWrong
	}
	if u := s.users[username]; u != nil {
		if s.passwordFloor.Check(ctx, u.check, u.set, password) {
			return username, credOK
		}
		return "", credWrong
	}
	started := time.Now()
	row, err := s.store.LocalUser(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.passwordFloor.Pad(ctx, started)
		return "", credWrong
	case err != nil:
		s.log.Error("looking up a local user", "error", err)
		return "", credUnavailable
	}
	chk, err := secret.ParseUncachedGated(row.PasswordHash, s.slowHashes)
	if err != nil {
		s.log.Error("a stored password hash does not parse", "subject", row.Subject, "error", err)
		s.passwordFloor.Pad(ctx, started)
		return "", credWrong
	}
	if !s.passwordFloor.Check(ctx, chk, secret.ParamSet(row.PasswordHash), password) {
		return "", credWrong
	}
	if row.Disabled {
		return row.Subject, credDisabled
	}
	return row.Subject, credOK
}

// sourceName is the source of a throttled name: "local" or the directory's ID.
func sourceName(who, username string) string {
	if who == username {
		return "local"
	}
	return connector.SourceOf(who)
}

// failLogin records a refused password and shows the form again. The
// failure is recorded even if the client has hung up meanwhile: otherwise
// closing the connection as the hash finishes would make a guess free.
// The reservations stay taken: a password was tried.
func (s *Server) failLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization, t loginTry, who, username string, now time.Time) {
	s.signInEvent(r, req, "failure", who, sourceName(who, username))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), loginNoteTimeout)
	err := s.store.NoteLoginFailure(ctx, t.key, now)
	cancel()
	if err != nil {
		s.loginUnavailable(w, "recording a failed sign-in", err)
		return
	}
	setOutcome(w, "login_failed")
	s.showLogin(w, r, req, http.StatusUnauthorized, username, "Wrong username or password.", false)
}

// startSession stores a new browser session for subject and sets its
// cookie; the store keeps only the cookie's hash.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, subject string, amr []string, now time.Time) (*store.Session, error) {
	token, hash, err := issue.NewOpaque()
	if err != nil {
		return nil, err
	}
	sess := store.Session{ID: hash, Subject: subject, AuthTime: now.Truncate(time.Second), AMR: amr, CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return nil, err
	}
	http.SetCookie(w, s.cookie(s.sessionCookie, token, sessionTTL))
	return &sess, nil
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
	if !s.people.exists(r.Context(), sess.Subject) { // removed or disabled since
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

// showLogin shows the login page with the sources the request may use: a
// hint (idp_hint, or a login_hint's domain) narrows them to one; otherwise
// the password form offers the local users and every directory, and each
// upstream provider gets a button.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization, status int, username, msg string, locked bool) {
	d := web.LoginData{
		Action: s.issuer + pathAuthorize, CSRFToken: s.csrfToken(w, r, nil), RequestID: req.Raw,
		ClientName: s.clientName(req.Client.ID), ClientID: req.Client.ID,
		Username: username, Error: msg, Locked: locked, Source: r.PostForm.Get(web.FieldSource),
	}
	hint, hinted := s.sources.hinted(req.IDPHint, req.LoginHint)
	switch {
	case hinted && hint == nil: // the local users only
		d.Source = ""
	case hinted && hint.directory != nil:
		d.Directories, d.NoLocal, d.Source = []web.Item{{ID: hint.cfg.ID, Name: hint.cfg.Name}}, true, hint.cfg.ID
	default:
		for _, src := range s.sources.list {
			item := web.Item{ID: src.cfg.ID, Name: src.cfg.Name}
			if src.directory != nil {
				d.Directories = append(d.Directories, item)
			} else {
				d.Upstreams = append(d.Upstreams, item)
			}
		}
	}
	s.pages.Login(w, status, d)
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req *grant.Authorization, sess *store.Session) {
	ticket, err := s.newTicket(req.Raw, sess, req.MaxAge)
	if err != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
		return
	}
	d := web.ConsentData{
		Action: s.issuer + pathAuthorize, CSRFToken: s.csrfToken(w, r, sess), RequestID: ticket,
		ClientName: s.clientName(req.Client.ID), ClientID: req.Client.ID, Username: sess.Subject,
		OfflineAccess: req.HasScope("offline_access"),
	}
	if c := req.Client; c.Metadata {
		d.ClientName, d.Unverified, d.LoopbackOnly = c.Name, true, c.LoopbackOnly
		if u, err := url.Parse(req.RedirectURI); err == nil {
			d.RedirectHost = u.Host
		}
	}
	for _, sc := range req.Grant.Scopes {
		d.Scopes = append(d.Scopes, web.Item{ID: sc, Name: sc})
	}
	for _, a := range req.Grant.Audience {
		if a == req.Client.ID {
			continue
		}
		d.Audiences = append(d.Audiences, s.describeAudience(a))
	}
	setOutcome(w, "consent")
	s.pages.Consent(w, d)
}

// clientName is a client's name for people, or "".
func (s *Server) clientName(id string) string {
	if c := s.clients[id]; c != nil {
		return c.cfg.Name
	}
	return ""
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
