// Package config loads and validates the Gatehouse configuration file: the
// source of truth for clients, audiences, scopes and users.
//
// The structs of this file are the schema: their yaml tags name the keys,
// in the order hints list them, and the YAML library decodes the file into
// them. Decoding is strict (unknown and repeated keys are errors), only the
// ${NAME} form is expanded from the environment, and validation reports
// every problem at once with its file:line and a hint.
package config

import (
	"net/netip"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/policy"
)

// Defaults applied by Load when a field is absent.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultStorage           = "sqlite:gatehouse.db"
	DefaultSigningAlg        = "ES256"
	DefaultAccessTokenTTL    = 10 * time.Minute
	DefaultRefreshTokenTTL   = 30 * 24 * time.Hour
	DefaultKeyRotationPeriod = 30 * 24 * time.Hour
	// DefaultMaxDelegationDepth: user → portal → API → API.
	DefaultMaxDelegationDepth = 3
)

// Config is the whole configuration file.
type Config struct {
	// Issuer is the public URL of this server; it is the "iss" of every token.
	Issuer string `yaml:"issuer"`
	// Listen is the bind address; it may differ from the issuer's host.
	Listen string `yaml:"listen"`
	// TLS, when set, makes serve answer HTTPS (TLS 1.2 or later, HTTP/2)
	// on Listen with a certificate it reloads when the files change.
	// Without it serve speaks plain HTTP, for a reverse proxy that
	// terminates TLS (list it in trusted_proxies).
	TLS *TLS `yaml:"tls"`
	// Storage is "sqlite:PATH" or a postgres:// (postgresql://) URL.
	Storage string `yaml:"storage"`
	// SigningAlg is ES256 (default), EdDSA or RS256.
	SigningAlg string `yaml:"signing_alg"`
	// AccessTokenTTL is the lifetime of access tokens (default 10m).
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL is the lifetime of refresh tokens (default 720h).
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// KeyRotationPeriod is how long a signing key stays active before it is
	// rotated automatically (default 720h; a negative value disables it).
	KeyRotationPeriod time.Duration `yaml:"key_rotation_period"`

	Clients           []Client           `yaml:"clients"`
	ExternalAudiences []ExternalAudience `yaml:"external_audiences"`
	Users             []User             `yaml:"users"`
	// ClientMetadataDocuments, when set, accepts clients that identify
	// themselves by the https URL of an OAuth Client ID Metadata Document
	// (the MCP client registration mechanism) from the hosts it allows.
	ClientMetadataDocuments *MetadataClients `yaml:"client_metadata_documents"`
	// DynamicRegistration, when set, opens RFC 7591 dynamic client
	// registration (POST /register) for clients that cannot publish a
	// metadata document. Off by default.
	DynamicRegistration *DynamicRegistration `yaml:"dynamic_registration"`
	// Connectors are the identity sources people can sign in through
	// besides the local users: upstream OpenID Connect providers and LDAP
	// directories. Local users (users: above, and those kept in the store
	// with `gatehouse users`) need none.
	Connectors []Connector `yaml:"connectors"`
	// Policy holds the rules `gatehouse audit` checks and `gatehouse
	// serve` refuses to start without; see Rule.
	Policy []Rule `yaml:"policy"`

	// TrustedProxies are the load balancers and reverse proxies whose
	// X-Forwarded-For the server believes whenever it decides by client
	// address: rate limits, the loopback-only /metrics and the access log.
	// Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`

	// DPoP tunes proof checking at the token endpoint (RFC 9449); proofs
	// are accepted from every client without it.
	DPoP *DPoP `yaml:"dpop"`

	// MaxDelegationDepth bounds the act chain of exchanged tokens: how
	// many hops a token can be passed on (default 3).
	MaxDelegationDepth int `yaml:"max_delegation_depth"`

	// Admins are the clients allowed to call the admin endpoints
	// (POST /admin/explain), authenticating with their own credentials.
	// Each must be a confidential client of this file.
	Admins []string `yaml:"admins"`

	// Path is the file the configuration was read from (not a YAML key).
	Path string `yaml:"-"`
}

// Client is a party that obtains tokens, consumes them, or both. APIs are
// clients too: their ID is the value that appears in "aud".
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is a plain secret (development), an argon2id PHC string or a
	// bcrypt hash. A client without one is public.
	Secret       string   `yaml:"secret"`
	RedirectURIs []string `yaml:"redirect_uris"`
	GrantTypes   []string `yaml:"grant_types"`
	// Audience lists other client IDs or external audiences that may
	// consume this client's tokens. The client itself is always included.
	Audience []string `yaml:"audience"`
	// Scopes are the scopes this client may request.
	Scopes []string `yaml:"scopes"`
	// FirstParty clients belong to the operator: users are not asked to
	// consent to them (offline_access included).
	FirstParty bool `yaml:"first_party"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return the
	// user (OIDC RP-Initiated Logout §3), matched exactly.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Tags label the client for policy rules (e.g. public, internal,
	// hr-data). They are explicit: nothing is derived from other fields,
	// so a reviewer sees every label a rule depends on.
	Tags []string `yaml:"tags"`
	// RequirePKCE, when false, lets a confidential client use the
	// authorization code flow without PKCE. Default (nil): required for
	// every client, as RFC 9700 §2.1.1 recommends.
	RequirePKCE *bool `yaml:"require_pkce"`
	// IDTokenSignedResponseAlg is the JWS algorithm of the client's ID
	// tokens (the name is OIDC Dynamic Client Registration §2's): one of
	// Config.IDTokenSigningAlgs. Empty (the default) means SigningAlg.
	// Access tokens are always signed with SigningAlg.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg"`
	// Routes are the API's routes and the scopes each needs: the one source
	// of truth `gatehouse proxy` fetches from GET /routes and enforces,
	// and `gatehouse audit --who-can` reads. Only a confidential client
	// can declare routes, because it fetches them authenticated.
	Routes []Route `yaml:"routes"`
	// IDTokenScopeClaims puts the user claims that the granted scopes
	// release (profile, email, ...) into the client's ID tokens as well.
	// By default they come from UserInfo only, as OIDC Core §5.4 says when
	// an access token is issued; an ID token carries a user claim only
	// when the request asked for it with the claims parameter (§5.5).
	IDTokenScopeClaims bool `yaml:"id_token_scope_claims"`
	// AllowedOrigins are web origins (scheme://host[:port]) whose pages
	// may call the token, userinfo, revocation and introspection
	// endpoints from JavaScript (CORS), besides the origins of a public
	// client's redirect_uris, which are allowed without being listed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// GroupsClaim lists the groups the client's ID and access tokens (and
	// UserInfo) may name in a "groups" claim: of the person's groups, only
	// these are released; "*" releases all. Empty (the default): no groups
	// claim, so a client learns no more of a person than it needs.
	GroupsClaim []string `yaml:"groups_claim"`
	// ResourceURI is the API's resource URI (an MCP server's
	// https://mcp.example.com/mcp): a second name of it as an audience,
	// written in canonical form (oauth.CanonicalResource). A request may
	// name the API either way, in any spelling of the URI; its token
	// carries the name asked for.
	ResourceURI string `yaml:"resource_uri"`
	// ExchangeTo lists the audiences the client may obtain tokens for by
	// RFC 8693 token exchange, handing in a token issued for it (an API
	// calling another API on a user's behalf). Only a confidential client
	// can exchange.
	ExchangeTo []string `yaml:"exchange_to"`
	// JWKS is the client's public JSON Web Key Set: it authenticates with
	// private_key_jwt (RFC 7523 §2.2, RFC 10070), signing assertions with
	// one of these keys. A client may have both jwks and a secret while it
	// moves from one to the other.
	JWKS map[string]any `yaml:"jwks"`
	// JWKSURI is where the client publishes its key set instead (https;
	// http only on loopback): fetched on first use, kept an hour, fetched
	// again when an assertion names a key it lacks.
	JWKSURI string `yaml:"jwks_uri"`
	// DPoPBoundAccessTokens (RFC 9449 §5.2's client metadata name): every
	// token request of the client must carry a DPoP proof, so its tokens
	// are all bound to its key.
	DPoPBoundAccessTokens bool `yaml:"dpop_bound_access_tokens"`

	// Line is the line of the client's entry in the file (not a YAML key).
	Line int `yaml:"-"`
}

// DPoP is the token endpoint's DPoP settings.
type DPoP struct {
	// RequireNonce makes clients use a server nonce (RFC 9449 §8): a
	// proof without the current one is answered use_dpop_nonce with a
	// DPoP-Nonce header. It limits how long a proof made in advance
	// (say by malware that cannot reach the key later) stays usable.
	RequireNonce bool `yaml:"require_nonce"`
}

// TLS names the certificate serve presents. Both files are PEM; relative
// paths are relative to the working directory, as sqlite:PATH is.
//
//	tls: {cert_file: /etc/gatehouse/tls.crt, key_file: /etc/gatehouse/tls.key}
type TLS struct {
	// CertFile holds the server certificate followed by any
	// intermediates.
	CertFile string `yaml:"cert_file"`
	// KeyFile holds the certificate's private key.
	KeyFile string `yaml:"key_file"`

	// Line is the line where the tls mapping starts: that of tls: for
	// {cert_file: ..., key_file: ...}, else its first key's (not a YAML key).
	Line int `yaml:"-"`
	// certLine and keyLine are where the file names are written, for
	// CheckTLSFiles, which runs after Parse.
	certLine, keyLine int
}

// Route is one entry of a client's routes: requests whose path matches
// Path, with one of Methods, need a token carrying every one of Scopes.
//
//	routes:
//	  - {path: /orders/{id}, methods: [GET], scopes: [orders:read]}
type Route struct {
	// Path is a net/http ServeMux pattern path without method or host,
	// such as /orders/{id} or /static/ (a prefix); see net/http.ServeMux.
	Path string `yaml:"path"`
	// Methods are upper-case HTTP methods; empty means every method. GET
	// also matches HEAD, as in ServeMux.
	Methods []string `yaml:"methods"`
	// Scopes are all required; empty means any valid token for the API.
	Scopes []string `yaml:"scopes"`

	// Line is the line of the route's entry in the file (not a YAML key).
	Line int `yaml:"-"`
}

// Patterns returns the ServeMux patterns of the route: one per method
// ("GET /orders/{id}"), or the bare path when no method is given.
func (r *Route) Patterns() []string {
	if len(r.Methods) == 0 {
		return []string{r.Path}
	}
	out := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		out[i] = m + " " + r.Path
	}
	return out
}

// IDTokenSigningAlgs returns the algorithms ID tokens can be signed with,
// as discovery publishes them: SigningAlg first, then RS256, which OIDC
// Core §15.1 requires every OP to support and for which the key ring
// therefore always holds keys.
func (c *Config) IDTokenSigningAlgs() []string {
	if c.SigningAlg == "RS256" {
		return []string{"RS256"}
	}
	return []string{c.SigningAlg, "RS256"}
}

// PKCERequired reports whether authorization requests must carry a PKCE
// challenge. Public clients always need one.
func (c *Client) PKCERequired() bool {
	return c.Public() || c.RequirePKCE == nil || *c.RequirePKCE
}

// Public reports whether the client has neither a secret nor keys and so
// cannot authenticate itself.
func (c *Client) Public() bool { return c.Secret == "" && len(c.JWKS) == 0 && c.JWKSURI == "" }

// ExternalAudience is an audience value that is not a Gatehouse client, such
// as a third-party API. In YAML it is either a plain string (the ID) or a
// mapping with id, description and tags.
type ExternalAudience struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	// Tags label the audience for policy rules, like Client.Tags. Only
	// the mapping form can carry them.
	Tags []string `yaml:"tags"`
	Line int      `yaml:"-"`
}

// Rule is one entry of the policy: section. A rule has a name (it is what
// a violation reports) and exactly one kind: Deny, Only or Require.
//
//	policy:
//	  - name: public clients never reach internal APIs
//	    deny: {from_tags: [public], to_tags: [internal]}
//	  - name: only the back office reaches HR
//	    only: {to: hr-api, from: [backoffice-portal]}
//	  - name: APIs declare their scopes
//	    require: api_scopes
//
// Rules are checked against the audience each client is granted (its
// default aud, which every narrowed request stays within). A client's own
// ID is always in its audience; that pair is never checked, because a
// client holding a token for itself reaches nobody else.
type Rule struct {
	// Name identifies the rule in violations; names are unique.
	Name string `yaml:"name"`
	// Description says why the rule exists (optional, for reviewers).
	Description string `yaml:"description"`
	// Deny forbids every client → audience pair the match selects.
	Deny *Match `yaml:"deny"`
	// Only allows the audiences the match's To side selects to be
	// reached only by clients its From side selects.
	Only *Match `yaml:"only"`
	// Require names a property every relevant entry must have; one of
	// the Require* constants.
	Require string `yaml:"require"`
	// OnlyGroups lets the audiences it selects be reached, by a token
	// issued for a person, only by people in one of its groups. Unlike
	// the other kinds it is decided when a token is issued (the person's
	// groups are known only then), at the authorization endpoint, the code
	// redemption and every refresh.
	OnlyGroups *GroupMatch `yaml:"only_groups"`

	// Line is the line of the rule's entry in the file (not a YAML key).
	Line int `yaml:"-"`
}

// Kind returns "deny", "only" or "require", or "" for a rule that has no
// kind (Parse refuses such a rule; one built in Go may still lack it).
func (r *Rule) Kind() string {
	switch {
	case r.Deny != nil:
		return RuleDeny
	case r.Only != nil:
		return RuleOnly
	case r.Require != "":
		return RuleRequire
	case r.OnlyGroups != nil:
		return RuleOnlyGroups
	}
	return ""
}

// Rule kinds, as returned by Rule.Kind and written as the rule's key.
const (
	RuleDeny    = "deny"
	RuleOnly    = "only"
	RuleRequire = "require"
	// RuleOnlyGroups restricts audiences to people in given groups.
	RuleOnlyGroups = "only_groups"
)

// Requirements a require: rule can name.
const (
	// RequireAPIScopes: every client that is in some other client's
	// audience (an API) lists the scopes it offers, so tokens for it say
	// what they allow and not only who they are for.
	RequireAPIScopes = "api_scopes"
	// RequireTags: every client and external audience carries at least one
	// tag, so a new entry cannot slip past tag-based rules unlabelled.
	RequireTags = "tags"
)

// Requirements lists the values a require: rule accepts, in the order
// hints name them.
func Requirements() []string { return []string{RequireAPIScopes, RequireTags} }

// Match selects client → audience pairs. The From side selects clients by
// ID (From) or by tag (FromTags); the To side selects audiences — client
// IDs or external audiences — by ID (To) or tag (ToTags). Within a side,
// an entry matches if it is listed or carries any listed tag. In YAML,
// from and to take one ID or a list.
type Match struct {
	From     []string `yaml:"from" config:"one_or_many"`
	FromTags []string `yaml:"from_tags"`
	To       []string `yaml:"to" config:"one_or_many"`
	ToTags   []string `yaml:"to_tags"`
}

// MatchesFrom reports whether the From side selects a client with this ID
// and these tags.
func (m *Match) MatchesFrom(id string, tags []string) bool {
	return selects(m.From, m.FromTags, id, tags)
}

// MatchesTo reports whether the To side selects an audience with this ID
// and these tags.
func (m *Match) MatchesTo(id string, tags []string) bool {
	return selects(m.To, m.ToTags, id, tags)
}

// selects compares exactly, like every identifier in Gatehouse: the tag
// "Internal" is not "internal".
func selects(ids, wantTags []string, id string, tags []string) bool {
	if slices.Contains(ids, id) {
		return true
	}
	for _, t := range wantTags {
		if slices.Contains(tags, t) {
			return true
		}
	}
	return false
}

// MetadataClients is the trust policy for clients known only by their
// Client ID Metadata Document: where documents may come from, and what
// such a client may obtain. They are public clients (PKCE, no secret) and
// carry the "public" tag besides Tags, so policy rules apply to them.
//
//	client_metadata_documents:
//	  allowed_hosts: [app.example.com, "*.tools.example.com"]
//	  audience: [https://mcp.example.com/mcp]
//	  scopes: [mcp:tools]
type MetadataClients struct {
	// AllowedHosts are the host names (or *.domain patterns) whose
	// documents are fetched; a client_id on any other host is refused
	// without a request.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Audience and Scopes are what every such client may obtain (its
	// default; a request narrows it, never more).
	Audience []string `yaml:"audience"`
	Scopes   []string `yaml:"scopes"`
	// Tags label these clients for policy rules; "public" is always one.
	Tags []string `yaml:"tags"`
	// AllowLoopback lets documents live on loopback addresses over http
	// (tests and local development only).
	AllowLoopback bool `yaml:"allow_loopback"`

	// Line is where the mapping starts (not a YAML key).
	Line int `yaml:"-"`
}

// MetadataClientTags are the tags of metadata-document clients.
func (m *MetadataClients) MetadataClientTags() []string {
	if slices.Contains(m.Tags, "public") {
		return m.Tags
	}
	return append(slices.Clone(m.Tags), "public")
}

// DynamicRegistration is the registration policy of RFC 7591 clients:
// what every registered client may obtain (its default; never more), and
// how long one lives unused. Registered clients are public (PKCE, no
// secret) and carry the "public" tag besides Tags.
type DynamicRegistration struct {
	Audience []string `yaml:"audience"`
	Scopes   []string `yaml:"scopes"`
	Tags     []string `yaml:"tags"`
	// ExpireAfter is how long a registered client lives after its last
	// use (default 720h).
	ExpireAfter time.Duration `yaml:"expire_after"`

	// Line is where the mapping starts (not a YAML key).
	Line int `yaml:"-"`
}

// RegisteredClientTags are the tags of registered clients.
func (d *DynamicRegistration) RegisteredClientTags() []string {
	if slices.Contains(d.Tags, "public") {
		return d.Tags
	}
	return append(slices.Clone(d.Tags), "public")
}

// GroupMatch is an only_groups rule: the audiences its To side selects
// (by ID or tag, as in Match) are reached only by people in at least one
// of Groups.
//
//	only_groups: {to: hr-api, groups: [hr]}
type GroupMatch struct {
	To     []string `yaml:"to" config:"one_or_many"`
	ToTags []string `yaml:"to_tags"`
	Groups []string `yaml:"groups" config:"one_or_many"`
}

// MatchesTo reports whether the rule selects an audience with this ID and
// these tags.
func (m *GroupMatch) MatchesTo(id string, tags []string) bool {
	return selects(m.To, m.ToTags, id, tags)
}

// User is a person who can sign in.
type User struct {
	Username string `yaml:"username"`
	// Password is a plain password (development only; hashed on load).
	Password string `yaml:"password"`
	// PasswordHash is an argon2id PHC string or a bcrypt hash.
	PasswordHash string `yaml:"password_hash"`
	// Claims are extra ID-token / userinfo claims (name, email, ...).
	Claims map[string]any `yaml:"claims"`
	// Groups are the person's groups, which only_groups rules read.
	Groups []string `yaml:"groups"`
	Line   int      `yaml:"-"`
}

// Tags returns the tags of the client or external audience with this ID,
// or nil when there is none. A client wins over an external audience of
// the same ID, as it does when a token is accepted.
func (c *Config) Tags(id string) []string {
	if cl := c.Client(id); cl != nil {
		return cl.Tags
	}
	for i := range c.ExternalAudiences {
		if c.ExternalAudiences[i].ID == id {
			return c.ExternalAudiences[i].Tags
		}
	}
	return nil
}

// Client returns the client with the given ID, or nil. IDs are compared
// exactly (case-sensitive).
func (c *Config) Client(id string) *Client {
	for i := range c.Clients {
		if c.Clients[i].ID == id {
			return &c.Clients[i]
		}
	}
	return nil
}

// PolicyClients is the configuration as the audience model reads it: the
// model (internal/policy) takes plain values, so it depends on no loader.
func (c *Config) PolicyClients() []policy.Client {
	out := make([]policy.Client, len(c.Clients))
	for i := range c.Clients {
		cl := &c.Clients[i]
		out[i] = policy.Client{ID: cl.ID, URI: cl.ResourceURI, Public: cl.Public(), Audience: cl.Audience, Scopes: cl.Scopes,
			GrantTypes: cl.GrantTypes, ExchangeTo: cl.ExchangeTo}
	}
	return out
}

// PolicyGroupRules resolves the only_groups rules to the audience IDs
// their To side selects (clients and external audiences, by ID or tag),
// for the audience model.
func (c *Config) PolicyGroupRules() []policy.GroupRule {
	var out []policy.GroupRule
	for i := range c.Policy {
		r := &c.Policy[i]
		if r.OnlyGroups == nil {
			continue
		}
		g := policy.GroupRule{Name: r.Name, Groups: r.OnlyGroups.Groups}
		for j := range c.Clients {
			if cl := &c.Clients[j]; r.OnlyGroups.MatchesTo(cl.ID, cl.Tags) || cl.ResourceURI != "" && r.OnlyGroups.MatchesTo(cl.ResourceURI, nil) {
				g.Audiences = append(g.Audiences, cl.ID)
			}
		}
		for j := range c.ExternalAudiences {
			if e := &c.ExternalAudiences[j]; c.Client(e.ID) == nil && r.OnlyGroups.MatchesTo(e.ID, e.Tags) {
				g.Audiences = append(g.Audiences, e.ID)
			}
		}
		out = append(out, g)
	}
	return out
}

// PolicyModel is the audience model of this configuration: its clients
// and its only_groups rules.
func (c *Config) PolicyModel() *policy.Model {
	return policy.New(c.PolicyClients(), c.PolicyGroupRules()...)
}
