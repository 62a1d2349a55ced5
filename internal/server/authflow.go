package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/web"
)

// The authorization endpoint over HTTP: pages, cookies and forms. Every
// protocol decision is the grant engine's (internal/grant/authorize.go);
// the states of a request are: parsed → login (when the session does not
// satisfy it) → consent (when needed; its answer carries a ticket, see
// ticket.go) → code.

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

// parseAuth validates a raw authorization request with the engine.
func (s *Server) parseAuth(w http.ResponseWriter, r *http.Request, raw string) (*grant.Authorization, *grant.AuthError) {
	req, ae := s.grants.ParseAuthorization(r.Context(), raw, s.idTokenHintSubject)
	if req != nil {
		setClient(w, req.Client.ID)
	}
	return req, ae
}

// startAuth runs a fresh authorization request.
func (s *Server) startAuth(w http.ResponseWriter, r *http.Request, raw string) {
	req, ae := s.parseAuth(w, r, raw)
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	s.continueAuth(w, r, req, s.currentSession(r))
}

// continueAuth moves req on from the session the browser has: to the
// login page when that session does not satisfy what the request requires,
// otherwise on to consent or the code.
func (s *Server) continueAuth(w http.ResponseWriter, r *http.Request, req *grant.Authorization, sess *store.Session) {
	why := req.LoginNeeded(sess, s.now())
	hint, _ := s.sources.hinted(req.IDPHint, req.LoginHint)
	switch {
	case why == "":
		s.afterLogin(w, r, req, sess, false)
	case hint != nil && hint.upstream != nil:
		// Straight to the provider the client named; with prompt=none it
		// is asked to stay silent too, and its answer is passed on.
		s.startUpstream(w, r, req, hint)
	case req.Prompt["none"]:
		s.failAuth(w, r, req, grant.RedirectErr(&oauth.Error{Code: oauth.CodeLoginRequired, Description: why + " (prompt=none)"}))
	default:
		hint := req.LoginHint
		if hint == "" {
			hint = req.HintSubject
		}
		s.showLogin(w, r, req, http.StatusOK, hint, "", false)
	}
}

// afterLogin runs once the session satisfies the request's authentication
// requirements: it asks for consent when needed and then issues the code.
// consented is true when the person has just answered the consent page.
func (s *Server) afterLogin(w http.ResponseWriter, r *http.Request, req *grant.Authorization, sess *store.Session, consented bool) {
	if req.HintSubject != "" && req.HintSubject != sess.Subject {
		// Signed in, but as someone else than the application asked for.
		s.failAuth(w, r, req, grant.RedirectErr(&oauth.Error{Code: oauth.CodeLoginRequired,
			Description: "the signed-in user is not the one id_token_hint names"}))
		return
	}
	// What this person may reach (only_groups), before anything is shown.
	if oe := s.grants.AuthorizeFor(r.Context(), req, sess.Subject); oe != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oe))
		return
	}
	if !consented {
		ask, oe := s.grants.ConsentNeeded(r.Context(), req, sess.Subject)
		switch {
		case oe != nil:
			s.failAuth(w, r, req, grant.RedirectErr(oe))
			return
		case ask && req.Prompt["none"]:
			s.failAuth(w, r, req, grant.RedirectErr(&oauth.Error{Code: oauth.CodeConsentRequired, Description: "the user has not consented to this client (prompt=none)"}))
			return
		case ask:
			s.showConsent(w, r, req, sess)
			return
		}
	}
	params, oe := s.grants.IssueCode(r.Context(), req, sess)
	if oe != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oe))
		return
	}
	setOutcome(w, "code")
	s.redirectWith(w, r, req, params)
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
	req, ae := s.parseAuth(w, r, r.PostForm.Get(web.FieldRequestID))
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	if id, ok := r.PostForm[web.FieldUpstream]; ok {
		if src := s.sources.byID[id[0]]; src != nil && src.upstream != nil {
			s.startUpstream(w, r, req, src)
			return
		}
		s.showLogin(w, r, req, http.StatusBadRequest, "", "That sign-in option is not available.", false)
		return
	}
	s.handleLogin(w, r, req)
}

func (s *Server) formExpired(w http.ResponseWriter) {
	s.errorPage(w, http.StatusForbidden, "This form has expired",
		"The sign-in form could not be verified (its security token is missing or does not match).",
		"Go back to the application and start signing in again.")
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
	req, ae := s.parseAuth(w, r, t.Request)
	switch {
	case ae != nil:
		s.failAuth(w, r, req, ae)
	case sess == nil || !t.bound(sess):
		// Signed out, or signed in again, since the page was shown.
		s.continueAuth(w, r, req, sess)
	case r.PostForm.Get(web.FieldDecision) != web.DecisionAllow:
		s.emit(r, events.Event{Type: events.ConsentDenied, Username: sess.Subject, ClientID: req.Client.ID})
		s.failAuth(w, r, req, grant.RedirectErr(oauth.AccessDenied("the user declined the request")))
	default:
		if oe := s.grants.RecordConsent(r.Context(), req, sess.Subject); oe != nil {
			s.failAuth(w, r, req, grant.RedirectErr(oe))
			return
		}
		s.emit(r, events.Event{Type: events.ConsentGranted, Username: sess.Subject, ClientID: req.Client.ID, Scopes: req.Grant.Scopes})
		s.afterLogin(w, r, req, sess, true)
	}
}
