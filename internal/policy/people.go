package policy

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
)

// Reachable reports whether a person in groups may hold a token for aud:
// every only_groups rule that selects aud must find one of its groups
// among the person's. When not, it returns the first rule that refuses.
func (m *Model) Reachable(aud string, groups []string) (ok bool, rule *GroupRule) {
	if id := m.uriToID[aud]; id != "" {
		aud = id // the rules name APIs by id
	}
	for _, r := range m.groupRules[aud] {
		if !slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(groups, g) }) {
			return false, r
		}
	}
	return true, nil
}

// GatesPeople reports whether any only_groups rule exists, so callers
// that have nothing to gate need not look the person up.
func (m *Model) GatesPeople() bool { return len(m.groupRules) > 0 }

// ForPerson cuts a grant of clientID down to what a person in groups may
// reach (only_groups rules). The client's own ID must be reachable, or the
// person may not use the client at all (access_denied). A target the
// request named (named: its resource and audience values) that the person
// may not reach refuses the request with invalid_target, as RFC 8707 §2
// asks of any target that cannot be granted; any other member of the
// audience is dropped silently, because a client's default audience says
// what the client may reach, not what each of its users may. azp follows
// the audience.
func (m *Model) ForPerson(clientID string, g Grant, groups, named []string) (Grant, *oauth.Error) {
	return m.forPerson(clientID, g, groups, named, nil)
}

// ExplainForPerson is ForPerson recording its reasons in why.
func (m *Model) ExplainForPerson(clientID string, g Grant, groups, named []string, why *[]string) (Grant, *oauth.Error) {
	return m.forPerson(clientID, g, groups, named, why)
}

func (m *Model) forPerson(clientID string, g Grant, groups, named []string, why *[]string) (Grant, *oauth.Error) {
	if len(m.groupRules) == 0 {
		return g, nil
	}
	if why != nil {
		list := strings.Join(groups, ", ")
		if list == "" {
			list = "none"
		}
		note(why, "the person's groups: "+list)
	}
	if ok, r := m.Reachable(clientID, groups); !ok {
		note(why, "policy rule '"+r.Name+"' lets only people in "+describeGroups(r.Groups)+" reach '"+clientID+"', the client itself: the person may not use it")
		return Grant{}, oauth.AccessDenied("this account may not use '" + clientID + "' (policy rule '" + r.Name + "')")
	}
	canon := make([]string, len(named))
	for i, n := range named {
		if c, err := oauth.CanonicalResource(n); err == nil {
			n = c
		}
		canon[i] = n
	}
	named = canon
	kept := make(oauth.Audience, 0, len(g.Audience))
	for _, a := range g.Audience {
		ok, r := m.Reachable(a, groups)
		switch {
		case ok:
			kept = append(kept, a)
		case slices.Contains(named, a):
			note(why, "'"+a+"' was requested, and policy rule '"+r.Name+"' lets only people in "+describeGroups(r.Groups)+" reach it: the request is refused (invalid_target)")
			return Grant{}, oauth.InvalidTarget("'" + a + "' is reserved to people in " + describeGroups(r.Groups) + " (policy rule '" + r.Name + "')")
		default:
			note(why, "'"+a+"' leaves the audience: policy rule '"+r.Name+"' lets only people in "+describeGroups(r.Groups)+" reach it")
		}
	}
	if len(kept) == len(g.Audience) {
		note(why, "every audience member is open to the person")
		return g, nil
	}
	g.Audience = kept
	g.AZP = AZP(clientID, kept)
	return g, nil
}

func describeGroups(groups []string) string {
	if len(groups) == 0 {
		return "no group"
	}
	return "group " + strings.Join(groups, " or ")
}

// ExplainAuthorizationFor evaluates an authorization request for a person
// in groups along the endpoint's own path: Authorization, then ForPerson
// once the person has signed in, and says why. The code's redemption and
// every refresh apply ForPerson again with the groups of that day.
func (m *Model) ExplainAuthorizationFor(clientID string, req Request, groups []string) Explanation {
	why := []string{}
	g, oe := m.authorization(clientID, req, &why)
	if oe == nil {
		named := req.Resources
		if req.Audience != "" {
			named = append(slices.Clip(named), oauth.SplitScope(req.Audience)...)
		}
		g, oe = m.forPerson(clientID, g, groups, named, &why)
		if oe == nil && len(m.groupRules) == 0 {
			note(&why, "no only_groups rule: the person's groups do not change the audience")
		}
	}
	return explanation(clientID, oauth.GrantAuthorizationCode, g, oe, why)
}
