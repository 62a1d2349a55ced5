// Package policy is the audience model of DESIGN.md: which audiences and
// scopes a client may obtain, and how a token request narrows them. It is
// pure (no I/O) so every rule is checked by table tests.
package policy

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/oauth"
)

// Model holds, per client, the precomputed allowed audience and scope sets.
// It is immutable after New and safe for concurrent use.
type Model struct {
	clients map[string]*clientPolicy
	// groupRules are the only_groups rules that select each audience.
	groupRules map[string][]*GroupRule
	// uriToID and idToURI pair an API's id with its resource URI: two
	// names of one recipient.
	uriToID, idToURI map[string]string
	// metadata is the class policy of clients known by a metadata
	// document (nil: none accepted); dynamic keeps their built policies.
	metadata     *MetadataClass
	registered   *MetadataClass
	dynamic      sync.Map
	dynamicCount atomic.Int64
}

// GroupRule is an only_groups rule of the policy, resolved to the audience
// IDs it selects: a token issued for a person may name one of Audiences
// only when the person is in at least one of Groups.
type GroupRule struct {
	Name      string
	Audiences []string
	Groups    []string
}

type clientPolicy struct {
	id string
	// public clients have no secret: they cannot authenticate, so they
	// are never allowed client_credentials (RFC 6749 §4.4).
	public bool
	// defaultGrant is what a request without resource/audience/scope gets;
	// precomputed so the common case allocates nothing.
	defaultGrant Grant
	allowedAud   map[string]struct{}
	allowedScope map[string]struct{}
	grantTypes   map[string]struct{}
	// exchangeTo are the audiences the client may exchange for, in
	// configuration order.
	exchangeTo []string
}

// Grant is the outcome of a successful token request: what the access token
// will carry.
type Grant struct {
	// Audience is the token's "aud": the client first, then its configured
	// audience in configuration order, or the narrowed targets in request
	// order.
	Audience oauth.Audience
	// AZP is the requesting client's id whenever Audience is not exactly
	// [client id], and empty otherwise.
	AZP string
	// Scopes are the granted scopes; Scope is the same space-joined.
	Scopes []string
	Scope  string
}

// Request is the part of a token request that shapes the grant.
type Request struct {
	// Resources are the RFC 8707 "resource" parameters (repeatable).
	Resources []string
	// Audience is the space-separated "audience" parameter.
	Audience string
	// Scope is the space-separated "scope" parameter; ScopeGiven says
	// whether it was sent at all (an absent scope means "all allowed").
	Scope      string
	ScopeGiven bool
}

// Client is what the model needs to know of one configured client. The
// configuration package builds these (config.Config.PolicyClients), so the
// model depends on no loader, file format or transport.
type Client struct {
	ID string
	// URI is the client's resource URI in canonical form
	// (oauth.CanonicalResource), a second name of it as an audience; "".
	URI        string
	Public     bool
	Audience   []string
	Scopes     []string
	GrantTypes []string
	// ExchangeTo are the audiences the client may obtain by token
	// exchange (RFC 8693).
	ExchangeTo []string
}

// New builds the model from validated clients. The configuration's
// validation guarantees audiences name known clients or external audiences;
// New does not re-check that.
func New(clients []Client, people ...GroupRule) *Model {
	m := &Model{clients: make(map[string]*clientPolicy, len(clients)), groupRules: map[string][]*GroupRule{},
		uriToID: map[string]string{}, idToURI: map[string]string{}}
	for i := range clients {
		if u := clients[i].URI; u != "" {
			m.uriToID[u], m.idToURI[clients[i].ID] = clients[i].ID, u
		}
	}
	for i := range people {
		r := &people[i]
		for _, a := range r.Audiences {
			m.groupRules[a] = append(m.groupRules[a], r)
		}
	}
	for i := range clients {
		m.clients[clients[i].ID] = m.build(&clients[i])
	}
	return m
}

// build precomputes one client's policy.
func (m *Model) build(c *Client) *clientPolicy {
	p := &clientPolicy{
		id:           c.ID,
		public:       c.Public,
		allowedAud:   map[string]struct{}{c.ID: {}},
		allowedScope: make(map[string]struct{}, len(c.Scopes)),
		grantTypes:   make(map[string]struct{}, len(c.GrantTypes)),
	}
	aud := oauth.Audience{c.ID}
	for _, a := range c.Audience {
		if _, dup := p.allowedAud[a]; dup {
			continue
		}
		p.allowedAud[a] = struct{}{}
		aud = append(aud, a)
	}
	// A request may name an API by either of its names; the token carries
	// the one it asked for.
	for a := range maps.Clone(p.allowedAud) {
		if u := m.idToURI[a]; u != "" {
			p.allowedAud[u] = struct{}{}
		}
		if id := m.uriToID[a]; id != "" {
			p.allowedAud[id] = struct{}{}
		}
	}
	for _, s := range c.Scopes {
		p.allowedScope[s] = struct{}{}
	}
	for _, g := range c.GrantTypes {
		p.grantTypes[g] = struct{}{}
	}
	scopes := slices.Clone(c.Scopes)
	p.defaultGrant = Grant{Audience: aud, Scopes: scopes, Scope: oauth.JoinScope(scopes), AZP: AZP(c.ID, aud)}
	p.exchangeTo = slices.Clone(c.ExchangeTo)
	return p
}

// MetadataClass is what every client known only by its Client ID Metadata
// Document may obtain: one trust policy for the whole class, since their
// documents are written by their authors, not the operator. Such clients
// are public and use the authorization code flow (and refresh tokens).
type MetadataClass struct {
	Audience []string
	Scopes   []string
}

// maxMetadataClients bounds how many metadata clients' policies are kept.
const maxMetadataClients = 10000

// SetMetadataClass lets clients whose id is an http(s) URL get the class's
// policy. The caller must have resolved and checked the client's document
// before asking the model about it; the model does not fetch. Call it
// before the model is shared.
func (m *Model) SetMetadataClass(c *MetadataClass) { m.metadata = c }

// RegisteredClientPrefix starts the id of every client registered with
// RFC 7591 dynamic registration, so no registered id can equal a
// configured client's or a metadata document's URL.
const RegisteredClientPrefix = "dcr-"

// SetRegisteredClass lets clients whose id starts with
// RegisteredClientPrefix get the registration policy. As with
// SetMetadataClass, the caller checks the client exists first.
func (m *Model) SetRegisteredClass(c *MetadataClass) { m.registered = c }

// client returns the policy of a configured client, or of a metadata
// client (built once per URL, then kept), or nil.
func (m *Model) client(id string) *clientPolicy {
	if p := m.clients[id]; p != nil {
		return p
	}
	var class *MetadataClass
	switch {
	case m.metadata != nil && oauth.IsResourceURI(id):
		class = m.metadata
	case m.registered != nil && strings.HasPrefix(id, RegisteredClientPrefix):
		class = m.registered
	default:
		return nil
	}
	if p, ok := m.dynamic.Load(id); ok {
		return p.(*clientPolicy)
	}
	p := m.build(&Client{ID: id, Public: true, Audience: class.Audience, Scopes: class.Scopes,
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
	if m.dynamicCount.Add(1) <= maxMetadataClients {
		m.dynamic.Store(id, p)
	}
	return p
}

// MayUseGrant reports whether the client is configured for the grant type.
func (m *Model) MayUseGrant(clientID, grantType string) bool {
	p := m.client(clientID)
	if p == nil {
		return false
	}
	_, ok := p.grantTypes[grantType]
	return ok
}

// DefaultAudience returns the audience a token of the client carries when
// the request does not narrow it, or nil for an unknown client.
func (m *Model) DefaultAudience(clientID string) oauth.Audience {
	if p := m.client(clientID); p != nil {
		return p.defaultGrant.Audience
	}
	return nil
}

// Restrict keeps, in order, only the scopes and audience values the
// client is allowed today. A refresh token carries what was granted when
// the user signed in; the configuration may have shrunk since, and it is
// the source of truth.
func (m *Model) Restrict(clientID string, scopes, audience []string) (keptScopes, keptAudience []string) {
	p := m.client(clientID)
	if p == nil {
		return nil, nil
	}
	for _, s := range scopes {
		if _, ok := p.allowedScope[s]; ok {
			keptScopes = append(keptScopes, s)
		}
	}
	for _, a := range audience {
		if _, ok := p.allowedAud[a]; ok {
			keptAudience = append(keptAudience, a)
		}
	}
	return keptScopes, keptAudience
}

// Grant decides what a token request of clientID obtains. Targets (resource
// and audience values together) narrow the audience; any target outside the
// client's allowed set refuses the whole request with invalid_target (RFC
// 8707 §2). Requested scopes outside the client's allowed scopes refuse it
// with invalid_scope (RFC 6749 §3.3). Comparison is exact and
// case-sensitive. The returned slices must not be modified.
func (m *Model) Grant(clientID string, req Request) (Grant, *oauth.Error) {
	p := m.client(clientID)
	if p == nil {
		return Grant{}, oauth.InvalidClient("unknown client")
	}
	return p.grant(req, nil)
}

// ClientCredentials is the token endpoint's whole decision for a
// client_credentials request (RFC 6749 §4.4) of an authenticated client:
// the grant type must be allowed to a confidential client, then Grant
// applies. The token endpoint and Explain both call it, so an explanation
// can never disagree with what the endpoint does.
func (m *Model) ClientCredentials(clientID string, req Request) (Grant, *oauth.Error) {
	return m.clientCredentials(clientID, req, nil)
}

// Explanation is what Explain found: either the grant (Audience, AZP,
// Scope) or the error, and the reasons in the order they were decided. Its
// JSON form is the answer of the admin explain endpoint and of
// `gatehouse audit --explain --format json`.
type Explanation struct {
	// Client is the client whose request was evaluated.
	Client string `json:"client"`
	// GrantType is the flow evaluated: client_credentials (a token
	// request) or authorization_code (an authorization request, whose code
	// redeems to a token with this grant).
	GrantType string `json:"grant_type"`
	// Granted is true when the token endpoint would issue a token.
	Granted bool `json:"granted"`
	// Audience, AZP and Scope are the claims the access token would carry
	// (absent when refused; AZP and Scope absent when the token omits
	// them).
	Audience oauth.Audience `json:"aud,omitempty"`
	AZP      string         `json:"azp,omitempty"`
	Scope    string         `json:"scope,omitempty"`
	// Error, ErrorDescription and Status are the RFC 6749 §5.2 error and
	// HTTP status the token endpoint would answer with when refused.
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	Status           int    `json:"status,omitempty"`
	// Reasons say, step by step, why.
	Reasons []string `json:"reasons"`
}

// Explain evaluates a client_credentials request of clientID as if it had
// authenticated, along the very code path of ClientCredentials, and says
// why it gets what it gets. An unknown client yields the error the
// endpoint's model gives (invalid_client).
func (m *Model) Explain(clientID string, req Request) Explanation {
	why := []string{}
	g, oe := m.clientCredentials(clientID, req, &why)
	return explanation(clientID, oauth.GrantClientCredentials, g, oe, why)
}

// Authorization is the authorization endpoint's decision on the audience
// and scope of an authorization request (OIDC Core §3.1.2.1 with RFC 8707
// resource indicators): the client must be allowed authorization_code,
// then Grant applies. Errors carry descriptions that name only the
// offending request, never the client's allowed set: the endpoint is
// unauthenticated. The access token redeemed from the code carries
// exactly this grant (the token request may narrow it further).
func (m *Model) Authorization(clientID string, req Request) (Grant, *oauth.Error) {
	return m.authorization(clientID, req, nil)
}

// ExplainAuthorization evaluates an authorization request along the very
// code path of Authorization and says why.
func (m *Model) ExplainAuthorization(clientID string, req Request) Explanation {
	why := []string{}
	g, oe := m.authorization(clientID, req, &why)
	return explanation(clientID, oauth.GrantAuthorizationCode, g, oe, why)
}

func (m *Model) authorization(clientID string, req Request, why *[]string) (Grant, *oauth.Error) {
	p := m.client(clientID)
	if p == nil {
		note(why, "there is no client '"+clientID+"' in the configuration")
		return Grant{}, oauth.InvalidClient("unknown client")
	}
	if why != nil {
		note(why, "default audience = the client itself ('"+p.id+"') + its configured audience: '"+p.defaultGrant.Audience.String()+"'")
	}
	if _, ok := p.grantTypes[oauth.GrantAuthorizationCode]; !ok {
		note(why, "authorization_code is not in the grant_types of '"+p.id+"'")
		return Grant{}, oauth.UnauthorizedClient("client '" + p.id + "' is not allowed the authorization_code grant")
	}
	g, oe := p.grant(req, why)
	if oe != nil {
		generic := *oe
		switch oe.Code {
		case oauth.CodeInvalidScope:
			generic.Description = "a requested scope is not allowed for this client"
		case oauth.CodeInvalidTarget:
			generic.Description = "a requested resource is not allowed for this client"
		}
		return Grant{}, &generic
	}
	return g, nil
}

// explanation assembles an Explanation from a decision and its reasons.
func explanation(clientID, grantType string, g Grant, oe *oauth.Error, why []string) Explanation {
	x := Explanation{Client: clientID, GrantType: grantType, Reasons: why}
	if oe != nil {
		x.Error, x.ErrorDescription, x.Status = oe.Code, oe.Description, oe.StatusOrDefault()
		return x
	}
	x.Granted = true
	x.Audience = slices.Clone(g.Audience)
	x.AZP = g.AZP
	x.Scope = g.Scope
	return x
}

// clientCredentials is ClientCredentials, recording its reasons in why
// when why is not nil; the token endpoint passes nil and pays for no
// strings.
func (m *Model) clientCredentials(clientID string, req Request, why *[]string) (Grant, *oauth.Error) {
	p := m.client(clientID)
	if p == nil {
		note(why, "there is no client '"+clientID+"' in the configuration")
		return Grant{}, oauth.InvalidClient("unknown client")
	}
	if why != nil {
		note(why, "default audience = the client itself ('"+p.id+"') + its configured audience: '"+p.defaultGrant.Audience.String()+"'")
	}
	if p.public {
		note(why, "'"+p.id+"' is a public client (no secret), and client_credentials needs a client that can authenticate")
		return Grant{}, oauth.UnauthorizedClient("a public client cannot use client_credentials")
	}
	if _, ok := p.grantTypes[oauth.GrantClientCredentials]; !ok {
		note(why, "client_credentials is not in the grant_types of '"+p.id+"'")
		return Grant{}, oauth.UnauthorizedClient("client '" + p.id + "' is not allowed the client_credentials grant; add it to grant_types in the configuration")
	}
	return p.grant(req, why)
}

// note appends a reason when reasons are being recorded.
func note(why *[]string, s string) {
	if why != nil {
		*why = append(*why, s)
	}
}

// grant is Grant for a known client, recording reasons in why (may be nil).
func (p *clientPolicy) grant(req Request, why *[]string) (Grant, *oauth.Error) {
	g := p.defaultGrant
	if len(req.Resources) > 0 || req.Audience != "" {
		aud, err := p.narrow(req, why)
		if err != nil {
			return Grant{}, err
		}
		g.Audience = aud
		g.AZP = AZP(p.id, aud)
	} else {
		note(why, "no resource or audience parameter: aud is the default audience")
	}
	if why != nil {
		if g.AZP != "" {
			note(why, "azp = '"+p.id+"': aud is not exactly ['"+p.id+"']")
		} else {
			note(why, "no azp: aud is exactly the client itself")
		}
	}
	if req.ScopeGiven && req.Scope != "" {
		scopes, err := p.scopes(req.Scope, why)
		if err != nil {
			return Grant{}, err
		}
		g.Scopes = scopes
		g.Scope = strings.Join(scopes, " ")
	} else if why != nil {
		if p.defaultGrant.Scope == "" {
			note(why, "no scope parameter and the client is allowed no scopes: the token carries no scope")
		} else {
			note(why, "no scope parameter: scope = every allowed scope of the client: '"+p.defaultGrant.Scope+"'")
		}
	}
	return g, nil
}

func (p *clientPolicy) narrow(req Request, why *[]string) (oauth.Audience, *oauth.Error) {
	targets := make(oauth.Audience, 0, len(req.Resources)+2)
	add := func(param, t string) *oauth.Error {
		if t == "" {
			note(why, "an empty "+param+" value was given")
			return oauth.InvalidTarget("an empty resource or audience value was given")
		}
		c, err := oauth.CanonicalResource(t)
		if err != nil {
			note(why, param+" '"+t+"' is not a valid resource: "+err.Error())
			return oauth.InvalidTarget(param + " '" + oauth.SafeName(t) + "': " + err.Error())
		}
		if c != t {
			note(why, param+" '"+t+"' is '"+c+"' in canonical form (scheme and host lower-case, default port and trailing slash dropped)")
		}
		t = c
		if _, ok := p.allowedAud[t]; !ok {
			note(why, param+" '"+t+"' is not in the allowed audience '"+p.defaultGrant.Audience.String()+
				"': the whole request is refused, even for the targets that are allowed (RFC 8707 §2)")
			return oauth.InvalidTarget("client '" + p.id + "' may not obtain a token for '" + t +
				"': its allowed audience is '" + p.defaultGrant.Audience.String() + "'")
		}
		if !targets.Contains(t) {
			targets = append(targets, t)
		}
		return nil
	}
	for _, r := range req.Resources {
		if err := add("resource", r); err != nil {
			return nil, err
		}
	}
	if req.Audience != "" {
		for _, a := range strings.Split(req.Audience, " ") {
			if a == "" {
				continue // tolerate double or trailing spaces in a space-separated list
			}
			if err := add("audience", a); err != nil {
				return nil, err
			}
		}
	}
	if len(targets) == 0 {
		note(why, "the audience parameter is only spaces: it names no target")
		return nil, oauth.InvalidTarget("the audience parameter names no target")
	}
	note(why, "narrowed by resource/audience to '"+targets.String()+"' (request order, duplicates dropped): every target is in the allowed audience")
	return targets, nil
}

func (p *clientPolicy) scopes(s string, why *[]string) ([]string, *oauth.Error) {
	var out []string
	for _, sc := range oauth.SplitScope(s) {
		if !oauth.ValidScopeToken(sc) {
			note(why, "requested scope '"+sc+"' is not a valid scope-token")
			return nil, oauth.InvalidScope("scope '" + sc + "' contains characters RFC 6749 §3.3 does not allow")
		}
		if _, ok := p.allowedScope[sc]; !ok {
			note(why, "requested scope '"+sc+"' is not among the allowed scopes '"+p.defaultGrant.Scope+"'")
			return nil, oauth.InvalidScope("client '" + p.id + "' may not request scope '" + sc +
				"': its allowed scopes are '" + p.defaultGrant.Scope + "'")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		note(why, "the scope parameter is only spaces: scope = every allowed scope of the client: '"+p.defaultGrant.Scope+"'")
		return p.defaultGrant.Scopes, nil
	}
	note(why, "scope = the requested scopes '"+strings.Join(out, " ")+"', each allowed to the client")
	return out, nil
}

// AZP is the "azp" of a token of clientID with audience aud: the client's
// id whenever aud is not exactly [clientID] (DESIGN.md; OIDC Core §2), and
// empty otherwise. Every token Gatehouse mints takes its azp from here.
func AZP(clientID string, aud oauth.Audience) string {
	if len(aud) == 1 && aud[0] == clientID {
		return ""
	}
	return clientID
}

// Narrow applies the optional scope, resource and audience parameters of a
// token request to what a user granted earlier (an authorization code's
// or a refresh family's scopes and audience): they may narrow it, never
// widen it (RFC 6749 §6, RFC 8707 §2.2). A target is compared in
// canonical form (oauth.CanonicalResource), and an API's id and resource
// URI name the same recipient: the token carries the form asked for.
// Without them the grant is the granted set as is.
func (m *Model) Narrow(clientID string, scopes, audience []string, req Request) (Grant, *oauth.Error) {
	g := Grant{Audience: oauth.Audience(audience), Scopes: scopes}
	if req.ScopeGiven {
		var out []string
		for _, v := range oauth.SplitScope(req.Scope) {
			if !slices.Contains(scopes, v) {
				return g, oauth.InvalidScope("scope '" + v + "' was not granted; a token request may narrow the granted scopes ('" + oauth.JoinScope(scopes) + "'), never widen them")
			}
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		if len(out) > 0 {
			g.Scopes = out
		}
	}
	targets := req.Resources
	if req.Audience != "" {
		targets = append(slices.Clip(targets), oauth.SplitScope(req.Audience)...)
	}
	if len(targets) > 0 {
		var aud oauth.Audience
		for _, t := range targets {
			c, err := oauth.CanonicalResource(t)
			if err != nil {
				return g, oauth.InvalidTarget("'" + oauth.SafeName(t) + "': " + err.Error())
			}
			if !m.granted(audience, c) {
				return g, oauth.InvalidTarget("'" + t + "' was not granted; the granted audience is '" + oauth.JoinScope(audience) + "'")
			}
			if !aud.Contains(c) {
				aud = append(aud, c)
			}
		}
		g.Audience = aud
	}
	g.Scope = oauth.JoinScope(g.Scopes)
	g.AZP = AZP(clientID, g.Audience)
	return g, nil
}

// granted reports whether audience names c under either of its names.
func (m *Model) granted(audience []string, c string) bool {
	if slices.Contains(audience, c) {
		return true
	}
	if id := m.uriToID[c]; id != "" && slices.Contains(audience, id) {
		return true
	}
	u := m.idToURI[c]
	return u != "" && slices.Contains(audience, u)
}
