// Package grant is the authorization server's protocol engine: one method
// per operation — client_credentials, authorization code redemption,
// refresh, and the authorization request's decisions — taking plain
// request values and returning a result or one *oauth.Error. It owns PKCE,
// the code and refresh-token rules (single use, replay revocation,
// rotation, reuse detection) and audience narrowing (through
// internal/policy, which owns the AZP rule). It knows nothing of HTTP:
// internal/server decodes a request, authenticates the client, calls one
// method and renders what it returns.
//
// Where to find a grant: client_credentials in clientcredentials.go, the
// code's redemption in code.go, refresh in refresh.go, the tokens of a
// user grant in usertokens.go, the authorization request in authorize.go.
// A new grant (token exchange, JWT bearer, device code) is a new file with
// one method and a case in Engine.Token.
package grant

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// Store is what the grants keep: codes, refresh families, access records.
type Store interface {
	store.CodeStore
	store.RefreshStore
	store.RevocationStore
	store.ConsentStore
}

// Users is the engine's view of the people who can sign in.
type Users interface {
	// Person returns the person with this subject as they are now, or
	// ErrNoPerson when they were removed or disabled: their grants end.
	// fresh asks the identity source again where it can (a refresh, whose
	// groups may have changed since the sign-in); otherwise what was
	// recorded at the sign-in serves. Any other error means the answer is
	// unknown (a directory is down) and fails the request closed.
	Person(ctx context.Context, subject string, fresh bool) (Person, error)
}

// Person is someone a token is issued for, as they are now.
type Person struct {
	Subject string
	// Groups decide the audiences only_groups rules reserve, and fill
	// the groups claim of clients configured for one.
	Groups []string
	// Claims are all the person's user claims (name, email,
	// preferred_username, ...); the engine releases those the granted
	// scopes allow (ReleasedClaims).
	Claims map[string]any
	// Source is the identity source that vouches for the person ("" for
	// a local user): the ID token's idp.
	Source string
	// Federated: an upstream provider authenticated the person, not a
	// password checked here (the ID token's acr).
	Federated bool
}

// ErrNoPerson means the person no longer exists or is disabled.
var ErrNoPerson = errors.New("grant: the person no longer exists or is disabled")

// Client is what the engine needs to know of an authenticated client.
type Client struct {
	ID string
	// RedirectURIs are the registered redirect URIs, matched exactly.
	RedirectURIs []string
	// IDTokenAlg is id_token_signed_response_alg; empty means the
	// access tokens' algorithm.
	IDTokenAlg string
	// IDTokenScopeClaims puts the claims the scopes release into ID tokens.
	IDTokenScopeClaims bool
	// PKCERequired: authorization requests must carry a PKCE challenge.
	PKCERequired bool
	// FirstParty clients are the operator's own: no consent page.
	FirstParty bool
	// GroupsClaim lists the groups the client's tokens may name in a
	// groups claim ("*": all); empty means no groups claim.
	GroupsClaim []string
	// Metadata: the client is known only by its Client ID Metadata
	// Document (ID is the document's URL); Name, RedirectHosts and
	// LoopbackOnly come from it, for the consent page.
	Metadata      bool
	Name          string
	RedirectHosts []string
	LoopbackOnly  bool
	// Public: the client has no credentials, so its refresh tokens are
	// bound to its DPoP key when it uses one (RFC 9449 §5).
	Public bool
	// DPoPBound is dpop_bound_access_tokens (RFC 9449 §5.2): every token
	// request must carry a DPoP proof.
	DPoPBound bool
}

// MetadataClients resolves clients known by a Client ID Metadata Document
// (internal/cimd behind the server's adapter).
type MetadataClients interface {
	// Client returns the client whose id is this document URL, its
	// document fetched (or cached) and checked. ok is false when id is not
	// a document URL at all; err, with ok true, says for the person or
	// client why the document cannot be used.
	Client(ctx context.Context, id string) (c *Client, ok bool, err error)
}

// Options are the engine's dependencies.
type Options struct {
	// Clients are every configured client.
	Clients []Client
	Model   *policy.Model
	Minter  *issue.Minter
	Store   Store
	Users   Users
	// RefreshTTL is the lifetime of a refresh family.
	RefreshTTL time.Duration
	// Now is the clock.
	Now func() time.Time
	Log *slog.Logger
	// Events receives the audit events of code redemption, code replay
	// and refresh token reuse; nil drops them.
	Events events.Sink
	// Metadata resolves clients known by a metadata document; nil: none
	// are accepted.
	Metadata MetadataClients
	// Subjects verifies the tokens handed in for a token exchange; nil:
	// no exchange. MaxDelegationDepth bounds the act chain
	// (DefaultMaxDelegationDepth when 0).
	Subjects           SubjectTokens
	MaxDelegationDepth int
}

// Engine runs the grants. It is safe for concurrent use.
type Engine struct {
	clients    map[string]*Client
	model      *policy.Model
	minter     *issue.Minter
	store      Store
	users      Users
	refreshTTL time.Duration
	now        func() time.Time
	log        *slog.Logger
	events     events.Sink
	metadata   MetadataClients
	subjects   SubjectTokens
	maxDepth   int
}

// New returns an Engine.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{clients: make(map[string]*Client, len(o.Clients)), model: o.Model, minter: o.Minter,
		store: o.Store, users: o.Users, refreshTTL: o.RefreshTTL, now: o.Now, log: o.Log,
		events: events.OrDiscard(o.Events), metadata: o.Metadata, subjects: o.Subjects, maxDepth: o.MaxDelegationDepth}
	if e.maxDepth <= 0 {
		e.maxDepth = DefaultMaxDelegationDepth
	}
	for i := range o.Clients {
		c := o.Clients[i]
		e.clients[c.ID] = &c
	}
	return e
}

// Client returns the configured client with id, or nil.
func (e *Engine) Client(id string) *Client { return e.clients[id] }

// LookupClient returns the configured client with id, or the client whose
// metadata document id is: fetched at most once per cache lifetime. An
// unknown id is invalid_client; a document that cannot be used is
// invalid_client with the reason.
func (e *Engine) LookupClient(ctx context.Context, id string) (*Client, *oauth.Error) {
	if c := e.clients[id]; c != nil {
		return c, nil
	}
	if e.metadata != nil {
		c, ok, err := e.metadata.Client(ctx, id)
		switch {
		case ok && err != nil:
			return nil, oauth.InvalidClient("the client's metadata document cannot be used: " + err.Error())
		case ok:
			return c, nil
		}
	}
	return nil, oauth.InvalidClient("unknown client '" + oauth.SafeName(id) + "'")
}

// TokenRequest is a token endpoint request (RFC 6749 §4.1.3, §4.4.2, §6)
// after client authentication, as plain values.
type TokenRequest struct {
	GrantType string
	// Narrow holds scope, resource and audience.
	Narrow policy.Request
	// authorization_code: the code, and redirect_uri and code_verifier
	// with whether each was sent.
	Code              string
	RedirectURI       string
	RedirectURIGiven  bool
	CodeVerifier      string
	CodeVerifierGiven bool
	// refresh_token
	RefreshToken string
	// token exchange (RFC 8693 §2.1)
	SubjectToken, SubjectTokenType string
	ActorToken, ActorTokenType     string
	RequestedTokenType             string
	// DPoPJKT is the thumbprint of the key of the request's DPoP proof,
	// checked by the caller (RFC 9449 §4.3); empty without one. The
	// access token is bound to it.
	DPoPJKT string
}

// Result is what a successful grant issued.
type Result struct {
	GrantType string
	Grant     policy.Grant
	Access    issue.Minted
	// IDToken and Refresh are empty when not issued.
	IDToken string
	Refresh string
}

// Token runs the grant a token request names.
func (e *Engine) Token(ctx context.Context, c Client, req TokenRequest) (Result, *oauth.Error) {
	if c.DPoPBound && req.DPoPJKT == "" {
		return Result{}, oauth.InvalidRequest("client '" + c.ID + "' must send a DPoP proof (dpop_bound_access_tokens)")
	}
	switch req.GrantType {
	case oauth.GrantClientCredentials:
		return e.ClientCredentials(c, req.Narrow, req.DPoPJKT)
	case oauth.GrantAuthorizationCode:
		return e.RedeemCode(ctx, c, req)
	case oauth.GrantRefreshToken:
		return e.Refresh(ctx, c, req.RefreshToken, req.Narrow, req.DPoPJKT)
	case oauth.GrantTokenExchange:
		return e.Exchange(ctx, c, req)
	// A grant to come (RFC 7523 JWT bearer) adds a case here and a file
	// with its method.
	default:
		return Result{}, oauth.UnsupportedGrantType("grant_type '" + oauth.SafeName(req.GrantType) +
			"' is not supported; use client_credentials, authorization_code, refresh_token or " + oauth.GrantTokenExchange)
	}
}

// mayUse refuses a grant type the client is not configured for.
func (e *Engine) mayUse(clientID, grantType string) *oauth.Error {
	if e.model.MayUseGrant(clientID, grantType) {
		return nil
	}
	return oauth.UnauthorizedClient("client '" + clientID + "' is not allowed the " + grantType + " grant")
}
