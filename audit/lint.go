package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
)

// Lint checks, as reported in Warning.Check.
const (
	// LintUndeclaredAudience: an audience value that is neither a client
	// nor a declared external audience. Configuration validation refuses
	// it; the lint still reports it for configurations built otherwise.
	LintUndeclaredAudience = "undeclared_audience"
	// LintAPIWithoutScopes: a client in another client's audience that
	// lists no scopes, so tokens for it say who but not what.
	LintAPIWithoutScopes = "api_without_scopes"
	// LintAPICannotAuthenticate: a client in another client's audience
	// that has no secret, so it cannot authenticate to Gatehouse.
	LintAPICannotAuthenticate = "api_cannot_authenticate"
	// LintWildcard: a value that looks like a pattern ("*", "%", a bare
	// scheme) where Gatehouse compares exactly.
	LintWildcard = "wildcard"
	// LintCaseCollision: identifiers or tags that differ only in case.
	LintCaseCollision = "case_collision"
	// LintUnreachableRoute: an API route whose scopes no client that can
	// obtain a token for the API is allowed to request, so every call to
	// it will be refused with insufficient_scope.
	LintUnreachableRoute = "unreachable_route"
)

// Warning is one lint finding: legal but probably not what was meant.
type Warning struct {
	// Check is one of the Lint* names.
	Check string `json:"check"`
	// Subject is the value concerned: a client ID, an audience, a
	// redirect URI, or for a case collision the colliding values joined
	// by ", ".
	Subject string `json:"subject"`
	// Message says what is suspicious and what to do about it.
	Message string `json:"message"`
}

// String formats the warning as "check: subject: message".
func (w Warning) String() string { return w.Check + ": " + w.Subject + ": " + w.Message }

// lint appends the warnings for cfg, check by check, so related warnings
// stay together in the output.
func (r *Report) lint(cfg *config.Config) {
	warn := func(check, subject, format string, args ...any) {
		r.Warnings = append(r.Warnings, Warning{Check: check, Subject: subject, Message: fmt.Sprintf(format, args...)})
	}

	for _, a := range r.Audiences {
		if a.Kind != KindUndeclared {
			continue
		}
		var users []string
		for _, row := range r.Matrix {
			if slices.Contains(row.Audience, a.ID) {
				users = append(users, row.Client)
			}
		}
		warn(LintUndeclaredAudience, a.ID, "in the audience of %s but neither a client nor a declared external audience: no recipient will ever accept it; fix the spelling or declare it under external_audiences",
			strings.Join(users, ", "))
	}

	by := r.namedBy()
	for _, c := range r.Clients {
		if users := by[c.ID]; len(users) > 0 && len(c.Scopes) == 0 {
			warn(LintAPIWithoutScopes, c.ID, "in the audience of %s but lists no scopes: its tokens say who they are for, not what they allow; list the scopes it offers under scopes:",
				strings.Join(users, ", "))
		}
	}
	for _, c := range r.Clients {
		if users := by[c.ID]; len(users) > 0 && c.Type == TypePublic {
			// The introspection endpoint needs client authentication; the
			// JWKS needs none, so local validation still works.
			extra := ""
			if !c.CanObtainTokens {
				extra = " and no grant types"
			}
			warn(LintAPICannotAuthenticate, c.ID, "in the audience of %s but has no secret%s: it cannot authenticate to Gatehouse, so it cannot introspect tokens or learn of revocations and can only check them against the public JWKS; give it a secret",
				strings.Join(users, ", "), extra)
		}
	}

	// Routes nobody can call: the API is in no token-holding client's
	// audience together with every scope the route needs.
	for _, api := range cfg.Clients {
		for _, rt := range api.Routes {
			callable := false
			for i, row := range r.Matrix {
				c := cfg.Client(row.Client)
				if c == nil || !r.Clients[i].CanObtainTokens || !slices.Contains(row.Audience, api.ID) {
					continue
				}
				if subsetOf(rt.Scopes, c.Scopes) {
					callable = true
					break
				}
			}
			if !callable {
				warn(LintUnreachableRoute, api.ID+" "+rt.Path, "route %s of %s needs scopes %q, but no client whose tokens name %s may request all of them: every call will be refused with insufficient_scope; grant the scopes to a client or drop the route",
					rt.Path, api.ID, strings.Join(rt.Scopes, " "), api.ID)
			}
		}
	}

	// Wildcards, field by field, so the warning says where the value is.
	for _, c := range cfg.Clients {
		check := func(field string, values ...string) {
			for _, v := range values {
				if why := wildcardLike(v); why != "" {
					warn(LintWildcard, v, "%s value of client %s %s, but Gatehouse compares %s values exactly: it matches only this literal value",
						field, c.ID, why, field)
				}
			}
		}
		check("id", c.ID)
		check("audience", c.Audience...)
		check("redirect_uris", c.RedirectURIs...)
		check("post_logout_redirect_uris", c.PostLogoutRedirectURIs...)
		check("scopes", c.Scopes...)
	}
	for _, a := range cfg.ExternalAudiences {
		if why := wildcardLike(a.ID); why != "" {
			warn(LintWildcard, a.ID, "external audience %s, but audiences are compared exactly: it matches only this literal value", why)
		}
	}

	var ids, tags []string
	for _, a := range r.Audiences {
		ids = append(ids, a.ID)
		tags = append(tags, a.Tags...)
	}
	for _, group := range caseCollisions(ids) {
		warn(LintCaseCollision, strings.Join(group, ", "), "these identifiers differ only in case; aud is compared exactly, so they are different recipients that are easily confused; rename one")
	}
	for _, group := range caseCollisions(tags) {
		warn(LintCaseCollision, strings.Join(group, ", "), "these tags differ only in case; rules compare tags exactly, so a rule naming one does not select the other; use one spelling")
	}
}

// bareScheme matches "https://", "https:" and the like: a URL with
// nothing after the scheme, which someone meant as "any https URL".
var bareScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:(//)?$`)

// percentEncoded matches a %XX escape, which is not a wildcard.
var percentEncoded = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// wildcardLike says how v looks like a pattern, or returns "".
func wildcardLike(v string) string {
	switch {
	case strings.HasSuffix(v, "/*"):
		return `ends with "/*"`
	case strings.Contains(v, "*"):
		return `contains "*"`
	case strings.Contains(percentEncoded.ReplaceAllString(v, ""), "%"):
		return `contains "%"`
	case bareScheme.MatchString(v):
		return "is only a scheme"
	}
	return ""
}

// caseCollisions groups the distinct values that are equal ignoring case,
// in first-seen order; only groups of two or more are returned.
func caseCollisions(values []string) [][]string {
	var order []string
	groups := map[string][]string{}
	for _, v := range values {
		k := strings.ToLower(v)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		if !slices.Contains(groups[k], v) {
			groups[k] = append(groups[k], v)
		}
	}
	var out [][]string
	for _, k := range order {
		if len(groups[k]) > 1 {
			out = append(out, groups[k])
		}
	}
	return out
}

// subsetOf reports whether every value of want is in have.
func subsetOf(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
