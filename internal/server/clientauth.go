package server

import (
	"encoding/base64"
	"github.com/gatehouse/gatehouse/config"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/oauth"
)

// authenticateClient applies RFC 6749 §2.3: HTTP Basic (client_secret_basic)
// or client_id/client_secret in the body (client_secret_post), never both;
// a public client identifies itself with client_id alone (method "none").
// Every failure looks the same to the caller; the log says which it was.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, p oauth.Form) (*clientEntry, *oauth.Error) {
	id, sec, method, oe := clientCredentials(r, p)
	if oe != nil {
		return nil, oe
	}
	now := s.now()
	// Failures are counted per address and client, so a guesser cannot
	// lock every client out from a shared address.
	key := s.clientIP(r) + "\x00" + id
	if blocked, retry := s.failures.blocked(key, now); blocked {
		s.clientAuthFailed(r, id, "throttled")
		return nil, tooManyFailures(retry)
	}
	c := s.clients[id]
	started := time.Now()
	refuse := func(reason string) (*clientEntry, *oauth.Error) {
		s.failures.fail(key, now)
		// One answer for every failure, unknown client, wrong secret or
		// wrong method, taking one time (secret.Floor); the audit trail
		// and the log say which it was, with the id that was claimed.
		s.secretFloor.Pad(r.Context(), started)
		s.clientAuthFailed(r, id, reason)
		return nil, oauth.InvalidClient("client authentication failed")
	}
	if method == oauth.AuthPrivateKeyJWT {
		return s.authenticateAssertion(w, r, c, id, sec, refuse)
	}
	switch {
	case c != nil && c.secret == nil && c.keys == nil:
		// A public client identifies itself; a secret it sends anyway is
		// a misconfiguration and refused rather than ignored.
		if method != oauth.AuthNone {
			return refuse("wrong_method")
		}
		setClient(w, id)
		return c, nil
	case c == nil && method == oauth.AuthNone && s.metadataClients:
		// A client known by its metadata document identifies itself
		// with the document's URL, like any public client; the
		// document decides whether it may.
		gc, oe := s.grants.LookupClient(r.Context(), id)
		if oe != nil {
			s.clientAuthFailed(r, id, "metadata_document")
			return nil, oe
		}
		setClient(w, id)
		return &clientEntry{cfg: &config.Client{ID: gc.ID, Name: gc.Name, RedirectURIs: gc.RedirectURIs}}, nil
	case c == nil:
		return refuse("unknown_client")
	case method == oauth.AuthNone, c.secret == nil:
		// No credential, or a secret for a client that has keys only.
		return refuse("wrong_method")
	}
	// A cheap check (a plain secret, or a slow hash that matched before)
	// decides at once: a client with many requests in flight is never
	// held up by the limiter.
	if q, ok := c.secret.(secret.QuickChecker); ok {
		if match, decided := q.QuickCheck(sec); decided {
			if !match {
				return refuse("wrong_secret")
			}
			setClient(w, id)
			return c, nil
		}
	}
	// The slow hash: reserve the try first, so concurrent guesses cannot
	// all be hashed before the first failure is counted.
	att, ok, retry := s.failures.begin(key, now)
	if !ok {
		s.clientAuthFailed(r, id, "throttled")
		return nil, tooManyFailures(retry)
	}
	if !s.secretFloor.Check(r.Context(), c.secret, c.set, sec) {
		s.clientAuthFailed(r, id, "wrong_secret")
		return nil, oauth.InvalidClient("client authentication failed")
	}
	att.succeeded()
	setClient(w, id)
	return c, nil
}

func tooManyFailures(retry int) *oauth.Error {
	return oauth.TemporarilyUnavailable("too many failed client authentications; retry later", http.StatusTooManyRequests, retry)
}

// clientCredentials extracts the presented credentials and the method.
func clientCredentials(r *http.Request, p oauth.Form) (id, sec, method string, _ *oauth.Error) {
	if typ, ok := p.Get("client_assertion_type"); ok {
		return assertionCredentials(r, p, typ)
	}
	postID, hasPostID := p.Get("client_id")
	postSecret, hasPostSecret := p.Get("client_secret")
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		return "", "", "", oauth.InvalidRequest("more than one Authorization header")
	}
	if len(authz) == 1 {
		scheme, cred, _ := strings.Cut(authz[0], " ")
		if !strings.EqualFold(scheme, "Basic") {
			return "", "", "", oauth.InvalidClient("unsupported Authorization scheme: use HTTP Basic for client authentication")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return "", "", "", oauth.InvalidClient("malformed HTTP Basic credentials")
		}
		u, pw, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", "", "", oauth.InvalidClient("malformed HTTP Basic credentials")
		}
		// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
		if id, err = url.QueryUnescape(u); err != nil {
			return "", "", "", oauth.InvalidClient("malformed HTTP Basic credentials")
		}
		if sec, err = url.QueryUnescape(pw); err != nil {
			return "", "", "", oauth.InvalidClient("malformed HTTP Basic credentials")
		}
		if hasPostSecret {
			return "", "", "", oauth.InvalidRequest("use one client authentication method: HTTP Basic or client_secret in the body, not both")
		}
		if hasPostID && postID != id {
			return "", "", "", oauth.InvalidRequest("client_id in the body differs from the HTTP Basic client")
		}
		return id, sec, oauth.AuthClientSecretBasic, nil
	}
	if !hasPostID {
		if hasPostSecret {
			return "", "", "", oauth.InvalidRequest("client_secret sent without client_id")
		}
		return "", "", "", oauth.InvalidClient("client authentication required: use HTTP Basic or client_id and client_secret in the body")
	}
	if hasPostSecret {
		return postID, postSecret, oauth.AuthClientSecretPost, nil
	}
	return postID, "", oauth.AuthNone, nil
}

// assertionCredentials reads a private_key_jwt authentication (RFC 7523
// §2.2): the assertion, and the client it claims (sub), which client_id
// must repeat when sent. The assertion is verified in authenticateClient.
func assertionCredentials(r *http.Request, p oauth.Form, typ string) (id, assertion, method string, _ *oauth.Error) {
	assertion, _ = p.Get("client_assertion")
	_, hasSecret := p.Get("client_secret")
	switch {
	case typ != assertionType:
		return "", "", "", oauth.InvalidClient("client_assertion_type must be " + assertionType)
	case assertion == "":
		return "", "", "", oauth.InvalidClient("client_assertion is missing")
	case len(r.Header.Values("Authorization")) > 0 || hasSecret:
		return "", "", "", oauth.InvalidRequest("use one client authentication method: a client assertion, HTTP Basic or client_secret, not several")
	}
	sub, err := assertionSubject(assertion)
	if err != nil {
		return "", "", "", oauth.InvalidClient(err.Error())
	}
	if postID, ok := p.Get("client_id"); ok && postID != sub {
		return "", "", "", oauth.InvalidClient("client_id differs from the client assertion's sub")
	}
	return sub, assertion, oauth.AuthPrivateKeyJWT, nil
}

// authenticateAssertion checks a private_key_jwt client's assertion.
func (s *Server) authenticateAssertion(w http.ResponseWriter, r *http.Request, c *clientEntry, id, assertion string,
	refuse func(string) (*clientEntry, *oauth.Error)) (*clientEntry, *oauth.Error) {
	switch {
	case c == nil:
		return refuse("unknown_client")
	case c.keys == nil:
		return refuse("wrong_method")
	}
	if err := s.checkAssertion(r.Context(), id, c.keys, assertion); err != nil {
		s.log.Info("client assertion refused", "client", id, "reason", err.Error())
		return refuse("bad_assertion")
	}
	setClient(w, id)
	return c, nil
}
