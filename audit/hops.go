package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// ExchangePath is a way a client reaches an API through RFC 8693 token
// exchanges: Client obtains a token for Through[0], which exchanges it for
// one naming Through[1], and so on; the last of Through exchanges it for
// the API. Each hop narrows the scopes to those the next recipient offers.
type ExchangePath struct {
	Client string `json:"client"`
	// Through are the hops, first to last.
	Through []string `json:"through"`
	// GrantTypes are Client's grants under which the chain fits
	// max_delegation_depth: a token a person signed in for carries the
	// client in its act chain, so it allows one hop less.
	GrantTypes []string `json:"grant_types"`
	// Missing are the route's scopes the path cannot carry to the API.
	Missing []string `json:"missing,omitempty"`
}

// String writes the path as client → hop ⇒ … ⇒ api.
func (p ExchangePath) String(api string) string {
	return p.Client + " → " + strings.Join(p.Through, " ⇒ ") + " ⇒ " + api
}

// exchangePaths finds every way to reach api through token exchanges with
// the scopes a route needs: backwards from api, over the clients whose
// exchange_to names it, to whoever can obtain tokens for them, directly or
// through further hops, at most max_delegation_depth hops and without
// cycles. Scopes narrow at every hop to what the next recipient offers,
// as the token endpoint does (policy.Model.Exchange).
func exchangePaths(cfg *config.Config, model *policy.Model, api string, scopes []string) []ExchangePath {
	depth := cfg.MaxDelegationDepth
	if depth <= 0 {
		depth = config.DefaultMaxDelegationDepth
	}
	offered := func(id string) []string {
		if c := cfg.Client(id); c != nil {
			return c.Scopes
		}
		return nil
	}
	var out []ExchangePath
	// walk extends the hops (last hop first in rev) that lead to api;
	// carried are the route's scopes every hop so far offers.
	var walk func(rev []string, carried []string)
	walk = func(rev []string, carried []string) {
		target := api
		if len(rev) > 0 {
			target = rev[len(rev)-1]
		}
		for _, h := range cfg.Clients {
			if !slices.Contains(h.ExchangeTo, target) || model.MayExchange(h.ID) != nil ||
				h.ID == api || slices.Contains(rev, h.ID) || len(rev) == depth {
				continue
			}
			next := append(slices.Clone(rev), h.ID)
			through := slices.Clone(next)
			slices.Reverse(through)
			hopCarried := carried
			if len(rev) > 0 {
				hopCarried = intersect(carried, offered(target))
			}
			for _, c := range cfg.Clients {
				if len(c.GrantTypes) == 0 || c.ID == h.ID || !slices.Contains(model.DefaultAudience(c.ID), h.ID) {
					continue
				}
				p := ExchangePath{Client: c.ID, Through: through, GrantTypes: fitting(c.GrantTypes, len(through), depth)}
				if len(p.GrantTypes) == 0 {
					continue
				}
				have := intersect(hopCarried, c.Scopes)
				for _, s := range scopes {
					if !slices.Contains(have, s) {
						p.Missing = append(p.Missing, s)
					}
				}
				out = append(out, p)
			}
			walk(next, hopCarried)
		}
	}
	walk(nil, intersect(scopes, offered(api)))
	slices.SortStableFunc(out, func(a, b ExchangePath) int { return len(a.Through) - len(b.Through) })
	return out
}

// fitting are the grants under which a chain of hops fits depth actors:
// a user's token counts the client it was issued to as the first actor.
func fitting(grants []string, hops, depth int) []string {
	var out []string
	for _, g := range grants {
		switch g {
		case "client_credentials":
			if hops <= depth {
				out = append(out, g)
			}
		case "authorization_code":
			if hops+1 <= depth {
				out = append(out, g)
			}
		}
	}
	return out
}

// intersect keeps the elements of a that b has, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// pathNote says how the path's client gets its first token.
func pathNote(p ExchangePath) string {
	var notes []string
	if slices.Contains(p.GrantTypes, "authorization_code") {
		notes = append(notes, "for a signed-in user")
	}
	if slices.Contains(p.GrantTypes, "client_credentials") {
		notes = append(notes, "on its own")
	}
	return fmt.Sprintf("(%s; %d exchange", strings.Join(notes, ", "), len(p.Through)) + map[bool]string{true: ")", false: "s)"}[len(p.Through) == 1]
}

// writeExchangePaths lists the report's ways through token exchange.
func writeExchangePaths(ew *errWriter, rep *WhoCanReport) {
	if len(rep.ViaExchange) == 0 {
		return
	}
	fmt.Fprintf(ew, "\nReach it through token exchange (RFC 8693: each hop exchanges a token issued for it, narrowing the scopes):\n")
	for _, p := range rep.ViaExchange {
		line := textValue(p.String(rep.API)) + "  " + pathNote(p)
		if len(p.Missing) > 0 {
			line += "  missing " + strings.Join(p.Missing, " ") + " (403)"
		}
		fmt.Fprintf(ew, "  %s\n", line)
	}
}
