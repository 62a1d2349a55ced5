package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/grant"
)

// The audit trail's emitters on the HTTP side (the grant engine emits
// its own: code redemption, code replay, refresh reuse). Every event is
// built from names, ids and the resolved client address only: never from
// a password, token, code or secret (package events).

// emit sends e with the request's time and resolved client address.
func (s *Server) emit(r *http.Request, e events.Event) {
	e.Time = s.now()
	e.Address = s.clientIP(r)
	s.events.Emit(r.Context(), e)
}

// signInEvent records a sign-in outcome in the audit trail and in
// gatehouse_signins_total. outcome is "success", "failure", "locked" or
// "disabled". username is the one claimed on the form, which may not
// exist (for a directory, prefixed with its ID), or the subject a source
// vouched for; source is "local" or the connector's ID.
func (s *Server) signInEvent(r *http.Request, req *grant.Authorization, outcome, username, source string) {
	s.metrics.signins.WithLabelValues(outcome).Inc()
	s.emit(r, events.Event{Type: "signin." + outcome, Username: username, ClientID: req.Client.ID, Source: source})
}

// clientAuthFailed records a refused client authentication with the id
// the caller claimed, in the audit trail and the log: which client is
// failing (a misconfigured deployment, or someone guessing) matters more
// to an operator than keeping an unauthenticated name out of the log. It
// is clipped and escaped like any claimed value. reason is
// one of unknown_client, wrong_secret, wrong_method or throttled.
func (s *Server) clientAuthFailed(r *http.Request, claimedID, reason string) {
	s.log.Info("client authentication failed", "claimed_client", events.Clip(claimedID), "reason", reason, "remote", s.clientIP(r))
	s.emit(r, events.Event{Type: events.ClientAuthFailure, ClientID: claimedID, Reason: reason})
}

// LoginThrottleKey is the store key that counts username's failed
// sign-ins in the deployment of issuer: a SHA-256 of the capped username,
// so the shared table never lists account names (often e-mail addresses)
// and every key has one length. The issuer is mixed in, so two
// deployments sharing a database do not share counts; every instance of
// one deployment has the same issuer and so the same key. Unknown
// usernames get a key like any other: the lock must not reveal which
// users exist. `gatehouse users unlock` clears the same key, so this is
// the one place it is computed.
func LoginThrottleKey(issuer, username string) string {
	issuer = strings.TrimSuffix(issuer, "/")
	if len(username) > maxThrottledUsername {
		username = username[:maxThrottledUsername]
	}
	h := sha256.New()
	h.Write([]byte("gatehouse login throttle\x00"))
	h.Write([]byte(issuer))
	h.Write([]byte{0})
	h.Write([]byte(username))
	return hex.EncodeToString(h.Sum(nil))
}
