package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/connector/upstream"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// Sign-in through an upstream OpenID Connect provider. The browser goes
// there with a fresh state, nonce and PKCE verifier; they wait in a
// cookie holding a ticket this server signed (so any instance can check
// it), never in a URL: the verifier must not travel with the code. The
// callback must come back to the browser that left (the cookie), with the
// state it left with, once (the store remembers used states across
// instances), and the upstream's ID token must carry the nonce.

const (
	// upstreamTicketType keeps the ticket from passing for a token.
	upstreamTicketType = "gatehouse-upstream+jwt"
	// upstreamTTL bounds how long a sign-in at the upstream may take.
	upstreamTTL = 10 * time.Minute
)

// upstreamTicket is the signed state of a sign-in at an upstream.
type upstreamTicket struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	Source   string `json:"src"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"pkce"`
	// Request is the raw authorization request, re-validated on return.
	Request string `json:"req"`
	Expires int64  `json:"exp"`
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// startUpstream sends the browser to src with the request's prompt,
// max_age and login_hint passed on, so prompt=none stays silent and
// prompt=login re-authenticates there too.
func (s *Server) startUpstream(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source) {
	t := upstreamTicket{Issuer: s.issuer, Audience: s.issuer, Source: src.cfg.ID, State: randomToken(),
		Nonce: randomToken(), Verifier: randomToken(), Request: req.Raw, Expires: s.now().Add(upstreamTTL).Unix()}
	extra := url.Values{}
	for _, p := range []string{"none", "login"} {
		if req.Prompt[p] {
			extra.Set("prompt", p)
		}
	}
	if req.MaxAge >= 0 {
		extra.Set("max_age", strconv.Itoa(req.MaxAge))
	}
	if req.LoginHint != "" {
		extra.Set("login_hint", req.LoginHint)
	}
	target, err := src.upstream.AuthURL(r.Context(), t.State, t.Nonce, t.Verifier, extra)
	if err != nil {
		s.upstreamUnavailable(w, r, req, src, err)
		return
	}
	ticket, err := s.signOwn(upstreamTicketType, t)
	if err != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
		return
	}
	http.SetCookie(w, s.cookie(s.upstreamCookie, ticket, upstreamTTL))
	setOutcome(w, "upstream")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// handleUpstreamCallback is where the upstream sends the browser back
// (GET /upstream/{id}/callback).
func (s *Server) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	src := s.sources.byID[r.PathValue("id")]
	t := s.upstreamState(r)
	if src == nil || src.upstream == nil || t == nil || t.Source != src.cfg.ID {
		s.upstreamFailed(w, http.StatusBadRequest, "This sign-in link is not valid here",
			"It was opened in another browser, has expired, or was already used.")
		return
	}
	http.SetCookie(w, s.expiredCookie(s.upstreamCookie))
	req, ae := s.parseAuth(w, r, t.Request)
	if ae != nil {
		s.failAuth(w, r, req, ae)
		return
	}
	code, ok := s.upstreamCode(w, r, req, src, t)
	if !ok {
		return
	}
	id, err := src.upstream.Exchange(r.Context(), code, t.Verifier, t.Nonce)
	if err != nil {
		s.upstreamRefused(w, r, req, src, err)
		return
	}
	s.signInFromSource(w, r, req, src, id, id.AMR)
}

// upstreamCode checks the callback's query against the ticket and uses
// its state up, once across every instance, and returns the code.
func (s *Server) upstreamCode(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source, t *upstreamTicket) (string, bool) {
	code, err := src.upstream.Callback(r.URL.Query(), t.State)
	if err != nil {
		s.upstreamRefused(w, r, req, src, err)
		return "", false
	}
	switch err := s.store.UseOnce(r.Context(), "upstream-state:"+hashHex(t.State), time.Unix(t.Expires, 0), s.now()); {
	case errors.Is(err, store.ErrConflict):
		s.upstreamFailed(w, http.StatusBadRequest, "This sign-in link was already used", "Go back to the application and sign in again.")
		return "", false
	case err != nil:
		s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
		return "", false
	}
	return code, true
}

// signInFromSource records the person a source vouched for, refuses a
// disabled one, and starts the session.
func (s *Server) signInFromSource(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source, id connector.Identity, amr []string) {
	row, err := s.people.record(r.Context(), src, id, true)
	if err != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
		return
	}
	if row.Disabled {
		s.signInEvent(r, req, "disabled", row.Subject, src.cfg.ID)
		s.accountDisabled(w)
		return
	}
	sess, err := s.startSession(w, r, row.Subject, amr, s.now())
	if err != nil {
		s.failAuth(w, r, req, grant.RedirectErr(oauth.ServerError(err)))
		return
	}
	s.signInEvent(r, req, "success", row.Subject, src.cfg.ID)
	s.afterLogin(w, r, req, sess, false)
}

// upstreamState reads and checks the sign-in ticket of the cookie.
func (s *Server) upstreamState(r *http.Request) *upstreamTicket {
	c, err := r.Cookie(s.upstreamCookie)
	if err != nil || len(c.Value) > maxTicketBytes {
		return nil
	}
	v, err := s.own.verifiers()
	if err != nil {
		return nil
	}
	claims, err := v.upstream.Verify(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	var t upstreamTicket
	if claims.Unmarshal(&t) != nil {
		return nil
	}
	return &t
}

// upstreamRefused answers a callback the upstream refused or that failed
// a check. The upstream's own refusals (access_denied, login_required for
// prompt=none, ...) go back to the client as the same error; a callback
// that fails a check (state, iss, the ID token) gets a page: the client
// cannot fix it.
func (s *Server) upstreamRefused(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source, err error) {
	s.log.Info("upstream sign-in refused", "connector", src.cfg.ID, "error", err)
	var ue *upstream.UpstreamError
	switch {
	case errors.As(err, &ue):
		code := oauth.CodeAccessDenied
		switch ue.Code {
		case oauth.CodeLoginRequired, oauth.CodeConsentRequired, "interaction_required", "account_selection_required":
			if req.Prompt["none"] {
				code = ue.Code
				if code != oauth.CodeConsentRequired {
					code = oauth.CodeLoginRequired
				}
			}
		case "temporarily_unavailable":
			code = "temporarily_unavailable"
		}
		s.signInEvent(r, req, "failure", "", src.cfg.ID)
		s.failAuth(w, r, req, grant.RedirectErr(&oauth.Error{Code: code, Status: 400,
			Description: "sign-in at " + src.cfg.Name + " did not complete (" + oauth.SafeName(ue.Code) + ")"}))
	case errors.Is(err, connector.ErrUnavailable):
		s.upstreamUnavailable(w, r, req, src, err)
	default:
		s.signInEvent(r, req, "failure", "", src.cfg.ID)
		s.upstreamFailed(w, http.StatusBadRequest, "The sign-in at "+src.cfg.Name+" could not be verified",
			"Its answer did not pass Gatehouse's checks: "+err.Error()+".")
	}
}

// upstreamUnavailable answers when the upstream cannot be reached.
func (s *Server) upstreamUnavailable(w http.ResponseWriter, r *http.Request, req *grant.Authorization, src *source, err error) {
	s.log.Warn("upstream unavailable", "connector", src.cfg.ID, "error", err)
	if req.Prompt["none"] {
		s.failAuth(w, r, req, grant.RedirectErr(&oauth.Error{Code: "temporarily_unavailable", Status: 503,
			Description: src.cfg.Name + " cannot be reached"}))
		return
	}
	setOutcome(w, "upstream_unavailable")
	s.errorPage(w, http.StatusServiceUnavailable, src.cfg.Name+" cannot be reached",
		"Gatehouse could not reach "+src.cfg.Name+" to sign you in.", "Wait a moment and try again.")
}

func (s *Server) upstreamFailed(w http.ResponseWriter, status int, title, msg string) {
	setOutcome(w, "upstream_refused")
	s.errorPage(w, status, title, msg, "Go back to the application and sign in again.")
}

func (s *Server) accountDisabled(w http.ResponseWriter) {
	setOutcome(w, "disabled")
	s.errorPage(w, http.StatusForbidden, "This account is disabled",
		"Your account may not sign in.", "Ask your administrator to enable it.")
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
