// Package policy is the audience model of DESIGN.md: which audiences and
// scopes a client may obtain, and how a token request narrows them. It is
// pure (no I/O) so every rule is checked by table tests.
package policy

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/oauth"
)

// Model holds, per client, the precomputed allowed audience and scope sets.
// It is immutable after New and safe for concurrent use.
type Model struct {
	clients map[string]*clientPolicy
}

type clientPolicy struct {
	id string
	// defaultGrant is what a request without resource/audience/scope gets;
	// precomputed so the common case allocates nothing.
	defaultGrant Grant
	allowedAud   map[string]struct{}
	allowedScope map[string]struct{}
	grantTypes   map[string]struct{}
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

// New builds the model from a validated configuration. The configuration's
// validation guarantees audiences name known clients or external audiences;
// New does not re-check that.
func New(cfg *config.Config) *Model {
	m := &Model{clients: make(map[string]*clientPolicy, len(cfg.Clients))}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		p := &clientPolicy{
			id:           c.ID,
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
		for _, s := range c.Scopes {
			p.allowedScope[s] = struct{}{}
		}
		for _, g := range c.GrantTypes {
			p.grantTypes[g] = struct{}{}
		}
		scopes := slices.Clone(c.Scopes)
		p.defaultGrant = Grant{Audience: aud, Scopes: scopes, Scope: strings.Join(scopes, " ")}
		if len(aud) != 1 {
			p.defaultGrant.AZP = c.ID
		}
		m.clients[c.ID] = p
	}
	return m
}

// MayUseGrant reports whether the client is configured for the grant type.
func (m *Model) MayUseGrant(clientID, grantType string) bool {
	p := m.clients[clientID]
	if p == nil {
		return false
	}
	_, ok := p.grantTypes[grantType]
	return ok
}

// DefaultAudience returns the audience a token of the client carries when
// the request does not narrow it, or nil for an unknown client.
func (m *Model) DefaultAudience(clientID string) oauth.Audience {
	if p := m.clients[clientID]; p != nil {
		return p.defaultGrant.Audience
	}
	return nil
}

// Restrict keeps, in order, only the scopes and audience values the
// client is allowed today. A refresh token carries what was granted when
// the user signed in; the configuration may have shrunk since, and it is
// the source of truth.
func (m *Model) Restrict(clientID string, scopes, audience []string) (keptScopes, keptAudience []string) {
	p := m.clients[clientID]
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
	p := m.clients[clientID]
	if p == nil {
		return Grant{}, oauth.InvalidClient("unknown client")
	}
	g := p.defaultGrant
	if len(req.Resources) > 0 || req.Audience != "" {
		aud, err := p.narrow(req)
		if err != nil {
			return Grant{}, err
		}
		g.Audience = aud
		g.AZP = ""
		if len(aud) != 1 || aud[0] != p.id {
			g.AZP = p.id
		}
	}
	if req.ScopeGiven && req.Scope != "" {
		scopes, err := p.scopes(req.Scope)
		if err != nil {
			return Grant{}, err
		}
		g.Scopes = scopes
		g.Scope = strings.Join(scopes, " ")
	}
	return g, nil
}

func (p *clientPolicy) narrow(req Request) (oauth.Audience, *oauth.Error) {
	targets := make(oauth.Audience, 0, len(req.Resources)+2)
	add := func(t string) *oauth.Error {
		if t == "" {
			return oauth.InvalidTarget("an empty resource or audience value was given")
		}
		if _, ok := p.allowedAud[t]; !ok {
			return oauth.InvalidTarget("client '" + p.id + "' may not obtain a token for '" + t +
				"': its allowed audience is '" + p.defaultGrant.Audience.String() + "'")
		}
		if !targets.Contains(t) {
			targets = append(targets, t)
		}
		return nil
	}
	for _, r := range req.Resources {
		if err := add(r); err != nil {
			return nil, err
		}
	}
	if req.Audience != "" {
		for _, a := range strings.Split(req.Audience, " ") {
			if a == "" {
				continue // tolerate double or trailing spaces in a space-separated list
			}
			if err := add(a); err != nil {
				return nil, err
			}
		}
	}
	if len(targets) == 0 {
		return nil, oauth.InvalidTarget("the audience parameter names no target")
	}
	return targets, nil
}

func (p *clientPolicy) scopes(s string) ([]string, *oauth.Error) {
	var out []string
	for _, sc := range strings.Split(s, " ") {
		if sc == "" {
			continue
		}
		if !validScopeToken(sc) {
			return nil, oauth.InvalidScope("scope '" + sc + "' contains characters RFC 6749 §3.3 does not allow")
		}
		if _, ok := p.allowedScope[sc]; !ok {
			return nil, oauth.InvalidScope("client '" + p.id + "' may not request scope '" + sc +
				"': its allowed scopes are '" + p.defaultGrant.Scope + "'")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return p.defaultGrant.Scopes, nil
	}
	return out, nil
}

// validScopeToken checks RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return s != ""
}
