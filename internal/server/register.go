package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/cimd"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/grant"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/store"
)

// Dynamic client registration (RFC 7591), off unless the configuration
// has dynamic_registration: for clients that cannot publish a metadata
// document. A registration request's metadata passes the same checks as a
// document's (internal/cimd); the client is public, gets the registration
// policy's audience and scopes (policy.SetRegisteredClass), lives in the
// shared store, and expires after expire_after without use.

const (
	pathRegister = "/register"
	// maxRegistrationBytes bounds a registration request: metadata is a
	// few hundred bytes.
	maxRegistrationBytes = 16 << 10
	// defaultRegistrationTTL is how long a registered client lives unused.
	defaultRegistrationTTL = 720 * time.Hour
	// touchEvery is how often a client's use is written (sliding expiry):
	// not on every request.
	touchEvery = time.Hour
)

// registrationResponse is RFC 7591 §3.2.1's body.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// handleRegister is POST /register (RFC 7591 §3).
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.registrationError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if _, ok, retry := s.registrations.begin(s.clientIP(r), s.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		s.registrationError(w, http.StatusTooManyRequests, "invalid_request", "too many registrations from this address; try later")
		return
	}
	c, status, code, desc := s.readRegistration(w, r)
	if code != "" {
		s.registrationError(w, status, code, desc)
		return
	}
	rc, err := s.register(r.Context(), c)
	if err != nil {
		s.log.Error("registering a client", "error", err)
		s.registrationError(w, http.StatusInternalServerError, "server_error", "the client could not be stored")
		return
	}
	s.emit(r, events.Event{Type: events.ClientRegistered, ClientID: rc.ID})
	body, _ := json.Marshal(registrationResponse{ClientID: rc.ID, ClientIDIssuedAt: rc.CreatedAt.Unix(), ClientName: rc.Name,
		RedirectURIs: rc.RedirectURIs, GrantTypes: rc.GrantTypes, ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: rc.AuthMethod})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, body)
}

// readRegistration reads and checks the request's metadata; code is the
// RFC 7591 §3.2.2 error when it cannot be registered.
func (s *Server) readRegistration(w http.ResponseWriter, r *http.Request) (c *cimd.Client, status int, code, desc string) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, http.StatusUnsupportedMediaType, "invalid_client_metadata", "send the client metadata as application/json"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBytes))
	if err != nil {
		return nil, http.StatusRequestEntityTooLarge, "invalid_client_metadata", "the registration request is larger than 16 KiB"
	}
	c, err = cimd.ParseRegistration(body)
	switch {
	case err != nil && strings.Contains(err.Error(), "redirect_uri"):
		return nil, http.StatusBadRequest, "invalid_redirect_uri", err.Error()
	case err != nil:
		return nil, http.StatusBadRequest, "invalid_client_metadata", err.Error()
	case c.AuthMethod != "none":
		return nil, http.StatusBadRequest, "invalid_client_metadata",
			"only public clients (token_endpoint_auth_method none) can register here"
	}
	return c, 0, "", ""
}

// register stores c under a new client_id.
func (s *Server) register(ctx context.Context, c *cimd.Client) (store.RegisteredClient, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return store.RegisteredClient{}, err
	}
	now := s.now()
	rc := store.RegisteredClient{ID: policy.RegisteredClientPrefix + base64.RawURLEncoding.EncodeToString(b[:]),
		Name: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, AuthMethod: c.AuthMethod,
		CreatedAt: now, ExpiresAt: now.Add(s.registrationTTL)}
	return rc, s.store.CreateRegisteredClient(ctx, rc)
}

func (s *Server) registrationError(w http.ResponseWriter, status int, code, desc string) {
	setOutcome(w, code)
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, body)
}

// registeredClients are the clients of dynamic registration, as the grant
// engine sees them: read from the store, their use recorded at most once
// an hour, which moves their expiry on.
type registeredClients struct {
	store store.ClientRegistrationStore
	now   func() time.Time
	ttl   time.Duration
}

// Client implements grant.MetadataClients for registered client IDs.
func (rc *registeredClients) Client(ctx context.Context, id string) (*grant.Client, bool, error) {
	now := rc.now()
	c, err := rc.store.GetRegisteredClient(ctx, id, now)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return nil, false, nil
	case err != nil:
		return nil, true, err
	}
	if now.Sub(c.LastUsedAt) > touchEvery {
		if err := rc.store.TouchRegisteredClient(ctx, id, now, now.Add(rc.ttl)); err != nil {
			return nil, true, err
		}
	}
	return &grant.Client{ID: c.ID, RedirectURIs: c.RedirectURIs, PKCERequired: true, Metadata: true, Name: c.Name}, true, nil
}

// externalClients are the clients Gatehouse learns of at run time:
// registered ones and those known by a metadata document.
type externalClients struct {
	registered *registeredClients
	metadata   *metadataClients
}

// Client implements grant.MetadataClients.
func (x *externalClients) Client(ctx context.Context, id string) (*grant.Client, bool, error) {
	if x.registered != nil && strings.HasPrefix(id, policy.RegisteredClientPrefix) {
		return x.registered.Client(ctx, id)
	}
	if x.metadata != nil {
		return x.metadata.Client(ctx, id)
	}
	return nil, false, nil
}
