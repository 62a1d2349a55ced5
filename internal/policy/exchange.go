package policy

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
)

// Exchange is the token endpoint's decision on what an RFC 8693 token
// exchange by clientID obtains, narrow-only: the audience is within the
// client's exchange_to (all of it when the request names no target), and
// the scopes are within the subject token's and those the targets offer
// (their configured scopes). Whether the subject token may be exchanged
// at all (its aud names the client, may_act, the chain's depth) is the
// grant engine's: the model sees only scopes and targets.
func (m *Model) Exchange(clientID string, subjectScopes []string, req Request) (Grant, *oauth.Error) {
	if oe := m.MayExchange(clientID); oe != nil {
		return Grant{}, oe
	}
	p := m.client(clientID)
	aud, oe := m.exchangeTargets(p, req)
	if oe != nil {
		return Grant{}, oe
	}
	offered := map[string]bool{}
	for _, a := range aud {
		if id := m.uriToID[a]; id != "" {
			a = id
		}
		if api := m.clients[a]; api != nil {
			for s := range api.allowedScope {
				offered[s] = true
			}
		}
	}
	var scopes []string
	if req.ScopeGiven && strings.TrimSpace(req.Scope) != "" {
		for _, s := range oauth.SplitScope(req.Scope) {
			switch {
			case !slices.Contains(subjectScopes, s):
				return Grant{}, oauth.InvalidScope("scope '" + s + "' is not in the subject token: an exchange may narrow scopes, never widen them")
			case !offered[s]:
				return Grant{}, oauth.InvalidScope("scope '" + s + "' is offered by none of '" + aud.String() + "'")
			}
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	} else {
		for _, s := range subjectScopes {
			if offered[s] && !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return Grant{Audience: aud, AZP: clientID, Scopes: scopes, Scope: oauth.JoinScope(scopes)}, nil
}

// MayExchange refuses a client that may not exchange tokens at all, before
// any token is looked at.
func (m *Model) MayExchange(clientID string) *oauth.Error {
	p := m.client(clientID)
	switch {
	case p == nil:
		return oauth.InvalidClient("unknown client")
	case p.public:
		return oauth.UnauthorizedClient("a public client cannot exchange tokens")
	case len(p.exchangeTo) == 0:
		return oauth.UnauthorizedClient("client '" + clientID + "' may exchange tokens for no audience; list them under exchange_to in the configuration")
	}
	return nil
}

// exchangeTargets is the exchanged token's audience: the targets the
// request names, each within exchange_to, or exchange_to as a whole.
func (m *Model) exchangeTargets(p *clientPolicy, req Request) (oauth.Audience, *oauth.Error) {
	targets := slices.Clone(req.Resources)
	if req.Audience != "" {
		targets = append(targets, oauth.SplitScope(req.Audience)...)
	}
	if len(targets) == 0 {
		return oauth.Audience(slices.Clone(p.exchangeTo)), nil
	}
	var aud oauth.Audience
	for _, t := range targets {
		c, err := oauth.CanonicalResource(t)
		if err != nil {
			return nil, oauth.InvalidTarget("'" + oauth.SafeName(t) + "': " + err.Error())
		}
		if !m.granted(p.exchangeTo, c) {
			return nil, oauth.InvalidTarget("client '" + p.id + "' may exchange tokens only for '" + strings.Join(p.exchangeTo, " ") +
				"', not for '" + oauth.SafeName(t) + "' (exchange_to)")
		}
		if !aud.Contains(c) {
			aud = append(aud, c)
		}
	}
	return aud, nil
}

// Names reports whether aud names the client id under either of its
// names (its id, or its resource URI), compared in canonical form.
func (m *Model) Names(aud oauth.Audience, id string) bool {
	for _, a := range aud {
		c, err := oauth.CanonicalResource(a)
		if err != nil {
			continue
		}
		if c == id || m.uriToID[c] == id {
			return true
		}
	}
	return false
}

// ExplainExchange evaluates a token exchange by clientID of a subject
// token carrying subjectScopes along the endpoint's own decision
// (Exchange), and says why. What the endpoint also checks of the subject
// token itself (its aud names the client, may_act, the chain's depth,
// revocation) is said as a reason, since no token is at hand.
func (m *Model) ExplainExchange(clientID string, subjectScopes []string, req Request) Explanation {
	why := []string{"the subject token must be this issuer's unexpired, unrevoked access token whose aud names '" + clientID +
		"' (and whose may_act, if any, names it); the new token keeps its sub, and its exp is capped by the subject token's"}
	g, oe := m.Exchange(clientID, subjectScopes, req)
	if oe == nil {
		if p := m.client(clientID); p != nil {
			why = append(why, "'"+clientID+"' may exchange for '"+strings.Join(p.exchangeTo, " ")+"' (exchange_to)")
		}
		why = append(why, "aud = '"+g.Audience.String()+"'", "scope = the subject token's scopes that the targets offer: '"+g.Scope+"'",
			"act = {\"sub\":\""+clientID+"\"} around the subject token's chain")
	} else {
		why = append(why, oe.Description)
	}
	return explanation(clientID, oauth.GrantTokenExchange, g, oe, why)
}
