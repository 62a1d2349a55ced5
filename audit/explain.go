package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// Explain evaluates a client_credentials token request of clientID with
// policy.Model.Explain: the decision the token endpoint makes, not a copy
// of it. ok is false when cfg has no such client (the token endpoint would
// only say invalid_client; the audit says the name is wrong).
func Explain(cfg *config.Config, clientID string, req policy.Request) (x policy.Explanation, ok bool) {
	if cfg.Client(clientID) == nil {
		return policy.Explanation{}, false
	}
	return policy.New(cfg).Explain(clientID, req), true
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
	fmt.Fprintf(ew, "client_credentials token request by %s%s\n", x.Client, requestText(req))
	if x.Granted {
		fmt.Fprintf(ew, "  granted\n  aud:   %s\n", audText(x.Audience))
		fmt.Fprintf(ew, "  azp:   %s\n", textOr(x.AZP))
		fmt.Fprintf(ew, "  scope: %s\n", textOr(x.Scope))
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
