package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The consent step of an authorization request is a signed ticket.
//
// An authorization request moves through states: received → (login, when
// the session does not satisfy prompt, max_age or id_token_hint) →
// (consent, when needed) → code. The login step needs no proof of the
// states before it: it re-validates the raw request and authenticates the
// person. The consent step must prove that the request reached it, in this
// session, after the authentication the request required — otherwise a
// person at a browser could post "allow" for a prompt=login request
// straight from the login page and get a code on the old session (OIDC
// Core §3.1.2.1). The consent form therefore carries, as its request_id,
// a ticket that afterLogin signs only once the request's authentication
// requirement is met. The ticket is bound to the session (a hash of its ID
// and its auth_time) and expires, and it is signed with the key ring's
// active key, the one secret every instance shares, so any instance can
// check it and no browser can forge it: anything derived from the session
// cookie alone could be computed by its holder.

const (
	// ticketTTL bounds how long a consent page stays answerable.
	ticketTTL = 15 * time.Minute
	// maxAgeGrace is how long past a request's max_age its consent page
	// may still be answered: the time to read it.
	maxAgeGrace = 2 * time.Minute
	// ticketType keeps a ticket from ever being taken for a token: verify
	// accepts only at+jwt, and ID token hints must say JWT.
	ticketType = "gatehouse-consent+jwt"
	// maxTicketBytes bounds what is parsed: a ticket embeds the raw
	// request, itself bounded by maxBodyBytes.
	maxTicketBytes = 2 * maxBodyBytes
)

// consentTicket is the signed state of a request waiting for consent.
type consentTicket struct {
	// Issuer and Audience are this server: a ticket is checked by the
	// same verify package as every token, which requires both.
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	// Request is the raw authorization request, re-validated on use.
	Request string `json:"req"`
	// Session binds the ticket to one session without revealing its ID.
	Session string `json:"ses"`
	// AuthTime is the session's auth_time when the ticket was made: a
	// re-authentication since then makes a new one necessary.
	AuthTime int64 `json:"auth_time"`
	Expires  int64 `json:"exp"`
}

var errTicket = errors.New("invalid consent ticket")

// sessionBinding names a session inside tickets and CSRF tokens. It is a
// hash, so the page never shows the session's ID.
func sessionBinding(purpose, sessionID string) string {
	sum := sha256.Sum256([]byte("gatehouse " + purpose + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newTicket signs the consent state of raw for sess. With max_age the
// ticket lives no longer than the sign-in stays within max_age (plus
// maxAgeGrace for the person to read the page): a code issued later would
// carry an auth_time older than the request allowed (OIDC Core §3.1.2.1).
func (s *Server) newTicket(raw string, sess *store.Session, maxAge int) (string, error) {
	exp := s.now().Add(ticketTTL)
	if maxAge >= 0 {
		if lim := sess.AuthTime.Add(time.Duration(maxAge)*time.Second + maxAgeGrace); lim.Before(exp) {
			exp = lim
		}
	}
	return s.signOwn(ticketType, consentTicket{Issuer: s.issuer, Audience: s.issuer, Request: raw,
		Session: sessionBinding("consent", sess.ID), AuthTime: sess.AuthTime.Unix(), Expires: exp.Unix()})
}

// signOwn signs claims as a JWS of type typ with the ring's active key:
// state only this server reads back (consent tickets, upstream sign-ins),
// checked by package verify like every token (owntokens.go).
func (s *shared) signOwn(typ string, claims any) (string, error) {
	signer := s.keys.Signer()
	if signer == nil {
		return "", errors.New("no signing key")
	}
	hdr, _ := json.Marshal(map[string]string{"alg": signer.Alg, "kid": signer.KID, "typ": typ})
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := signer.Sign([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// openTicket checks a ticket's signature, type and expiry with package
// verify (owntokens.go), like every token this server signed, and returns
// it. Whether it belongs to the current session is checked by bound.
func (s *Server) openTicket(tok string) (*consentTicket, error) {
	v, err := s.own.verifiers()
	if err != nil {
		return nil, err
	}
	c, err := v.ticket.Verify(context.Background(), tok)
	if err != nil {
		return nil, errTicket
	}
	var t consentTicket
	if err := c.Unmarshal(&t); err != nil {
		return nil, errTicket
	}
	return &t, nil
}

// bound reports whether t was made for sess as it is now.
func (t *consentTicket) bound(sess *store.Session) bool {
	want := sessionBinding("consent", sess.ID)
	return subtle.ConstantTimeCompare([]byte(t.Session), []byte(want)) == 1 && t.AuthTime == sess.AuthTime.Unix()
}
