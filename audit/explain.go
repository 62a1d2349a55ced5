package audit

import (
	"encoding/json"
	"fmt"
	"github.com/gatehouse/gatehouse/oauth"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// Explain evaluates a request of clientID with the endpoint's own decision
// (policy.Model.Explain for a client_credentials token request,
// ExplainAuthorization for an authorization request), not a copy of it.
// grantType "" picks client_credentials when the client may use it, else
// authorization_code. ok is false when cfg has no such client (the
// endpoint would only say invalid_client; the audit says the name is
// wrong).
//
// person, when not nil, is the person a token is issued for (their
// groups): only an authorization request is for a person, and the
// only_groups rules then apply as the endpoint applies them at sign-in.
func Explain(cfg *config.Config, clientID, grantType string, req policy.Request, person *Person) (x policy.Explanation, ok bool, err error) {
	c := cfg.Client(clientID)
	if c == nil {
		return policy.Explanation{}, false, nil
	}
	if person != nil {
		if grantType == "client_credentials" {
			return policy.Explanation{}, true, fmt.Errorf("--user and --groups explain a token for a person: use --grant authorization_code")
		}
		x := cfg.PolicyModel().ExplainAuthorizationFor(clientID, req, person.Groups)
		if person.Name != "" {
			x.Reasons = append([]string{"the person is " + person.Name}, x.Reasons...)
		}
		return x, true, nil
	}
	if grantType == "" {
		grantType = "client_credentials"
		if !slices.Contains(c.GrantTypes, "client_credentials") && slices.Contains(c.GrantTypes, "authorization_code") {
			grantType = "authorization_code"
		}
	}
	m := cfg.PolicyModel()
	switch grantType {
	case "client_credentials":
		return m.Explain(clientID, req), true, nil
	case "authorization_code":
		return m.ExplainAuthorization(clientID, req), true, nil
	case "token_exchange", oauth.GrantTokenExchange:
		return m.ExplainExchange(clientID, subjectScopes(cfg, req), req), true, nil
	}
	return policy.Explanation{}, true, fmt.Errorf("--grant must be client_credentials, authorization_code or token_exchange, not %q", grantType)
}

// subjectScopes are the scopes the explained exchange's subject token is
// taken to carry: every scope of the configuration (the decision then
// shows what the targets offer); the request's scope narrows as at the
// endpoint.
func subjectScopes(cfg *config.Config, _ policy.Request) []string {
	var out []string
	for _, c := range cfg.Clients {
		for _, s := range c.Scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Person is who an explained authorization request is for: a user's
// name (for the text) and their groups.
type Person struct {
	Name   string
	Groups []string
}

// WriteExplanation renders x as text (what a person reads) or json (the
// document POST /admin/explain answers with).
func WriteExplanation(w io.Writer, x policy.Explanation, req policy.Request, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	}
	if format != "text" {
		return fmt.Errorf("--explain writes text or json, not %q", format)
	}
	ew := &errWriter{w: w}
	if x.GrantType == "authorization_code" {
		fmt.Fprintf(ew, "authorization request (response_type=code) by %s%s — the access token from its code\n", x.Client, requestText(req))
	} else if x.GrantType == oauth.GrantTokenExchange {
		fmt.Fprintf(ew, "token exchange (RFC 8693) by %s%s of a token issued for it\n", x.Client, requestText(req))
	} else {
		fmt.Fprintf(ew, "client_credentials token request by %s%s\n", x.Client, requestText(req))
	}
	if x.Granted {
		fmt.Fprintf(ew, "  granted\n  aud:   %s\n", audText(x.Audience))
		fmt.Fprintf(ew, "  azp:   %s\n", textOr(x.AZP))
		fmt.Fprintf(ew, "  scope: %s\n", textOr(x.Scope))
	} else if x.GrantType == "authorization_code" && x.Error != "invalid_client" {
		fmt.Fprintf(ew, "  refused: sent back to the redirect_uri with error=%s\n  error_description: %s\n", x.Error, x.ErrorDescription)
	} else {
		fmt.Fprintf(ew, "  refused: HTTP %d %s\n  error_description: %s\n", x.Status, x.Error, x.ErrorDescription)
	}
	fmt.Fprint(ew, "why:\n")
	for i, r := range x.Reasons {
		fmt.Fprintf(ew, "  %d. %s\n", i+1, r)
	}
	return ew.err
}

// requestText shows the parameters as they would be sent.
func requestText(req policy.Request) string {
	var parts []string
	for _, r := range req.Resources {
		parts = append(parts, "resource="+r)
	}
	if req.Audience != "" {
		parts = append(parts, "audience="+req.Audience)
	}
	if req.ScopeGiven {
		parts = append(parts, "scope="+req.Scope)
	}
	if len(parts) == 0 {
		return " (no resource, audience or scope)"
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// audText is aud as the token carries it: a JSON string for one value, an
// array for several.
func audText(aud []string) string {
	b, _ := json.Marshal(aud)
	if len(aud) == 1 {
		b, _ = json.Marshal(aud[0])
	}
	return string(b)
}
