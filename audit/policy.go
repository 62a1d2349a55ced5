package audit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/config"
)

// RuleResult is one policy rule as the report shows it.
type RuleResult struct {
	// Name is the rule's name from the configuration.
	Name string `json:"name"`
	// Kind is "deny", "only" or "require" (config.RuleDeny, …).
	Kind string `json:"kind"`
	// Description is the rule's description, if any.
	Description string `json:"description,omitempty"`
	// Summary restates the rule in words, e.g. "clients tagged public
	// must not have audiences tagged internal".
	Summary string `json:"summary"`
	// Violations is how many entries of Report.Violations this rule has;
	// zero means the rule passes.
	Violations int `json:"violations"`
}

// Violation is one thing that breaks a policy rule: a client whose
// audience includes a recipient the rule forbids it, or (for a require
// rule) an entry lacking what the rule requires.
type Violation struct {
	// Rule is the name of the rule broken.
	Rule string `json:"rule"`
	// Kind is the rule's kind: "deny", "only" or "require".
	Kind string `json:"kind"`
	// Client is the client concerned; empty when the violation concerns
	// an external audience alone (require: tags).
	Client string `json:"client,omitempty"`
	// Audience is the recipient the client may obtain tokens for; empty
	// for a require rule, which concerns one entry and no pair.
	Audience string `json:"audience,omitempty"`
	// Message explains the violation in a sentence naming both sides.
	Message string `json:"message"`
}

// String formats the violation for a log line or an error:
// `rule "NAME": client "a" → audience "b": MESSAGE`.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule %q: ", v.Rule)
	switch {
	case v.Client != "" && v.Audience != "":
		fmt.Fprintf(&b, "client %q → audience %q: ", v.Client, v.Audience)
	case v.Client != "":
		fmt.Fprintf(&b, "client %q: ", v.Client)
	case v.Audience != "":
		fmt.Fprintf(&b, "audience %q: ", v.Audience)
	}
	b.WriteString(v.Message)
	return b.String()
}

// Evaluate checks cfg's policy rules and returns every violation, grouped
// by rule in configuration order; nil means the configuration complies.
// It is what `gatehouse serve` runs before it starts: the same code as
// the audit, so the two cannot disagree.
func Evaluate(cfg *config.Config) []Violation {
	v := Build(cfg).Violations
	if len(v) == 0 {
		return nil
	}
	return v
}

// checkPolicy evaluates every rule against the report's matrix, which is
// built from internal/policy's DefaultAudience: the audience the issuer
// grants, and the ceiling of any narrowed request.
//
// A client's configured audience counts whether or not the client has
// grant types today: a policy is about what the configuration allows, and
// adding a grant type must not be what silently turns a rule-breaking
// audience live. The pair (client, itself) is never checked; a token for
// oneself reaches nobody else.
func (r *Report) checkPolicy(cfg *config.Config) {
	tags := func(id string) []string {
		if c := r.column(id); c != nil {
			return c.Tags
		}
		return nil
	}
	for i := range cfg.Policy {
		rule := &cfg.Policy[i]
		res := RuleResult{Name: rule.Name, Kind: rule.Kind(), Description: rule.Description, Summary: summarize(rule)}
		before := len(r.Violations)
		add := func(client, audience, msg string) {
			r.Violations = append(r.Violations, Violation{Rule: rule.Name, Kind: res.Kind, Client: client, Audience: audience, Message: msg})
		}
		switch res.Kind {
		case config.RuleDeny:
			m := rule.Deny
			for ci, row := range r.Matrix {
				c := r.Clients[ci]
				if !m.MatchesFrom(c.ID, c.Tags) {
					continue
				}
				for _, a := range row.Audience {
					if a == c.ID || !m.MatchesTo(a, tags(a)) {
						continue
					}
					add(c.ID, a, fmt.Sprintf("%s may obtain tokens for %s, which the rule denies (%s; %s)%s",
						c.ID, a, why(c.ID, m.From, m.FromTags, c.Tags), why(a, m.To, m.ToTags, tags(a)), configuredOnly(c)))
				}
			}
			// Reaching an audience by token exchange is reaching it.
			for _, x := range r.Exchanges {
				c := r.client(x.Client)
				if c == nil || !m.MatchesFrom(c.ID, c.Tags) || !m.MatchesTo(x.Audience, tags(x.Audience)) {
					continue
				}
				add(c.ID, x.Audience, fmt.Sprintf("%s may obtain tokens for %s by token exchange (exchange_to), which the rule denies (%s; %s)",
					c.ID, x.Audience, why(c.ID, m.From, m.FromTags, c.Tags), why(x.Audience, m.To, m.ToTags, tags(x.Audience))))
			}
		case config.RuleOnly:
			m := rule.Only
			for _, col := range r.Audiences {
				if !m.MatchesTo(col.ID, col.Tags) {
					continue
				}
				for ci, row := range r.Matrix {
					c := r.Clients[ci]
					if c.ID == col.ID || !slices.Contains(row.Audience, col.ID) || m.MatchesFrom(c.ID, c.Tags) {
						continue
					}
					add(c.ID, col.ID, fmt.Sprintf("%s may obtain tokens for %s, which only %s may reach%s",
						c.ID, col.ID, describeSide(m.From, m.FromTags, "clients"), configuredOnly(c)))
				}
			}
			for _, x := range r.Exchanges {
				c := r.client(x.Client)
				if c == nil || !m.MatchesTo(x.Audience, tags(x.Audience)) || m.MatchesFrom(c.ID, c.Tags) {
					continue
				}
				add(c.ID, x.Audience, fmt.Sprintf("%s may obtain tokens for %s by token exchange, which only %s may reach",
					c.ID, x.Audience, describeSide(m.From, m.FromTags, "clients")))
			}
		case config.RuleRequire:
			switch rule.Require {
			case config.RequireAPIScopes:
				by := r.namedBy()
				for _, c := range r.Clients {
					if users := by[c.ID]; len(users) > 0 && len(c.Scopes) == 0 {
						add(c.ID, "", fmt.Sprintf("%s is in the audience of %s but lists no scopes; list the scopes it offers under scopes:",
							c.ID, strings.Join(users, ", ")))
					}
				}
			case config.RequireTags:
				for _, c := range r.Clients {
					if len(c.Tags) == 0 {
						add(c.ID, "", fmt.Sprintf("client %s has no tags; add tags: [..] so tag-based rules can select it", c.ID))
					}
				}
				for _, a := range r.Audiences {
					if a.Kind == KindExternal && len(a.Tags) == 0 {
						add("", a.ID, fmt.Sprintf("external audience %s has no tags; write it as {id: %s, tags: [..]} so tag-based rules can select it", a.ID, a.ID))
					}
				}
			}
		}
		res.Violations = len(r.Violations) - before
		r.Rules = append(r.Rules, res)
	}
}

// why says why one side of a match selected an entry: listed by ID, or
// which of its tags matched.
func why(id string, ids, wantTags, tags []string) string {
	if slices.Contains(ids, id) {
		return id + " is listed"
	}
	var hit []string
	for _, t := range wantTags {
		if slices.Contains(tags, t) {
			hit = append(hit, t)
		}
	}
	return id + " is tagged " + strings.Join(hit, ", ")
}

// configuredOnly notes a violation that no token shows today, so nobody
// dismisses it as a false alarm or mistakes it for live access.
func configuredOnly(c Client) string {
	if c.CanObtainTokens {
		return ""
	}
	return " (configured; the client has no grant types yet)"
}

// describeSide puts one side of a match into words, e.g. `backoffice-portal
// or clients tagged staff`.
func describeSide(ids, tags []string, noun string) string {
	var parts []string
	if len(ids) > 0 {
		parts = append(parts, strings.Join(ids, ", "))
	}
	if len(tags) > 0 {
		parts = append(parts, noun+" tagged "+strings.Join(tags, " or "))
	}
	if len(parts) == 0 {
		return "no " + noun
	}
	return strings.Join(parts, " or ")
}

// summarize restates a rule in words for the report.
func summarize(rule *config.Rule) string {
	switch rule.Kind() {
	case config.RuleDeny:
		m := rule.Deny
		return describeSide(m.From, m.FromTags, "clients") + " may not obtain tokens for " + describeSide(m.To, m.ToTags, "audiences")
	case config.RuleOnly:
		m := rule.Only
		return "only " + describeSide(m.From, m.FromTags, "clients") + " may reach " + describeSide(m.To, m.ToTags, "audiences")
	case config.RuleRequire:
		switch rule.Require {
		case config.RequireAPIScopes:
			return "every client that is another client's audience lists its scopes"
		case config.RequireTags:
			return "every client and external audience has at least one tag"
		}
		return "require " + strconv.Quote(rule.Require) + " (unknown requirement)"
	case config.RuleOnlyGroups:
		m := rule.OnlyGroups
		return "only people in " + describeSide(m.Groups, nil, "groups") + " may reach " + describeSide(m.To, m.ToTags, "audiences") + " (decided when a token is issued for a person)"
	}
	return "no rule kind"
}
