package audit

import (
	"encoding/json"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/policy"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// govCfg is a small company for rule and lint tests: a public web app, a
// staff app, an internal API and an HR API, plus one external audience.
func govCfg() *config.Config {
	return &config.Config{
		Clients: []config.Client{
			{ID: "web", Secret: "web-secret-0123456789", GrantTypes: []string{"authorization_code"}, Audience: []string{"orders"}, Tags: []string{"public"}},
			{ID: "staff", Secret: "staff-secret-0123456789", GrantTypes: []string{"authorization_code"}, Audience: []string{"orders", "hr", "partner"}, Tags: []string{"staff"}},
			{ID: "orders", Secret: "orders-secret-0123456789", GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}, Tags: []string{"api"}},
			{ID: "hr", Secret: "hr-secret-0123456789", GrantTypes: []string{"client_credentials"}, Scopes: []string{"hr:read"}, Tags: []string{"api", "internal"}},
		},
		ExternalAudiences: []config.ExternalAudience{{ID: "partner", Tags: []string{"partner"}}},
	}
}

// pair is a violation reduced to what the tests compare.
type pair struct{ rule, client, audience string }

func violations(r *Report) []pair {
	var out []pair
	for _, v := range r.Violations {
		out = append(out, pair{v.Rule, v.Client, v.Audience})
	}
	return out
}

func TestPolicyRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		rule   config.Rule
		want   []pair
	}{
		{
			name: "deny by tags passes",
			rule: config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"public"}, ToTags: []string{"internal"}}},
		},
		{
			name:   "deny by tags catches the public client reaching an internal API",
			change: func(c *config.Config) { c.Clients[0].Audience = append(c.Clients[0].Audience, "hr") },
			rule:   config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"public"}, ToTags: []string{"internal"}}},
			want:   []pair{{"r", "web", "hr"}},
		},
		{
			name: "deny by ids",
			rule: config.Rule{Name: "r", Deny: &config.Match{From: []string{"staff"}, To: []string{"partner"}}},
			want: []pair{{"r", "staff", "partner"}},
		},
		{
			name: "deny mixes ids and tags on one side",
			rule: config.Rule{Name: "r", Deny: &config.Match{From: []string{"web"}, FromTags: []string{"staff"}, ToTags: []string{"api"}}},
			want: []pair{{"r", "web", "orders"}, {"r", "staff", "orders"}, {"r", "staff", "hr"}},
		},
		{
			name: "deny by external audience tag",
			rule: config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"staff"}, ToTags: []string{"partner"}}},
			want: []pair{{"r", "staff", "partner"}},
		},
		{
			name: "a client's own id is never checked",
			rule: config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"api"}, ToTags: []string{"api"}}},
		},
		{
			name: "tags are compared exactly",
			rule: config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"Staff"}, ToTags: []string{"Internal"}}},
		},
		{
			name:   "configured audience counts without grant types",
			change: func(c *config.Config) { c.Clients[0].GrantTypes = nil; c.Clients[0].Audience = []string{"hr"} },
			rule:   config.Rule{Name: "r", Deny: &config.Match{FromTags: []string{"public"}, ToTags: []string{"internal"}}},
			want:   []pair{{"r", "web", "hr"}},
		},
		{
			name: "only passes for the listed client",
			rule: config.Rule{Name: "r", Only: &config.Match{To: []string{"hr"}, From: []string{"staff"}}},
		},
		{
			name:   "only catches another client",
			change: func(c *config.Config) { c.Clients[0].Audience = append(c.Clients[0].Audience, "hr") },
			rule:   config.Rule{Name: "r", Only: &config.Match{To: []string{"hr"}, From: []string{"staff"}}},
			want:   []pair{{"r", "web", "hr"}},
		},
		{
			name: "only by tags on both sides",
			rule: config.Rule{Name: "r", Only: &config.Match{ToTags: []string{"api"}, FromTags: []string{"public"}}},
			want: []pair{{"r", "staff", "orders"}, {"r", "staff", "hr"}},
		},
		{
			name: "only lets the API reach itself",
			rule: config.Rule{Name: "r", Only: &config.Match{To: []string{"orders", "hr"}, From: []string{"web", "staff"}}},
		},
		{
			name: "require api_scopes passes",
			rule: config.Rule{Name: "r", Require: config.RequireAPIScopes},
		},
		{
			name:   "require api_scopes catches an API without scopes",
			change: func(c *config.Config) { c.Clients[3].Scopes = nil },
			rule:   config.Rule{Name: "r", Require: config.RequireAPIScopes},
			want:   []pair{{"r", "hr", ""}},
		},
		{
			name:   "require api_scopes ignores a client nobody names",
			change: func(c *config.Config) { c.Clients[0].Scopes = nil },
			rule:   config.Rule{Name: "r", Require: config.RequireAPIScopes},
		},
		{
			name: "require tags passes",
			rule: config.Rule{Name: "r", Require: config.RequireTags},
		},
		{
			name: "require tags catches a client and an external audience",
			change: func(c *config.Config) {
				c.Clients[1].Tags = nil
				c.ExternalAudiences[0].Tags = nil
			},
			rule: config.Rule{Name: "r", Require: config.RequireTags},
			want: []pair{{"r", "staff", ""}, {"r", "", "partner"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := govCfg()
			if tc.change != nil {
				tc.change(cfg)
			}
			cfg.Policy = []config.Rule{tc.rule}
			r := Build(cfg)
			if got := violations(r); !slices.Equal(got, tc.want) {
				t.Errorf("violations = %v, want %v", got, tc.want)
			}
			if len(r.Rules) != 1 || r.Rules[0].Violations != len(tc.want) || r.Rules[0].Kind != tc.rule.Kind() {
				t.Errorf("rules = %+v", r.Rules)
			}
			if got := Evaluate(cfg); len(got) != len(tc.want) {
				t.Errorf("Evaluate = %v, want %d violations", got, len(tc.want))
			}
			for _, v := range r.Violations {
				for _, name := range []string{v.Client, v.Audience} {
					if !strings.Contains(v.Message, name) || !strings.Contains(v.String(), v.Rule) {
						t.Errorf("violation %q does not name %q and its rule", v, name)
					}
				}
			}
		})
	}
}

func TestViolationMessages(t *testing.T) {
	cfg := govCfg()
	cfg.Clients[0].Audience = append(cfg.Clients[0].Audience, "hr")
	cfg.Policy = []config.Rule{
		{Name: "public never internal", Deny: &config.Match{FromTags: []string{"public"}, ToTags: []string{"internal"}}},
		{Name: "only staff reach HR", Only: &config.Match{To: []string{"hr"}, From: []string{"staff"}}},
	}
	vs := Evaluate(cfg)
	if len(vs) != 2 {
		t.Fatalf("violations = %v", vs)
	}
	for i, want := range []string{
		`rule "public never internal": client "web" → audience "hr": web may obtain tokens for hr, which the rule denies (web is tagged public; hr is tagged internal)`,
		`rule "only staff reach HR": client "web" → audience "hr": web may obtain tokens for hr, which only staff may reach`,
	} {
		if got := vs[i].String(); got != want {
			t.Errorf("violation %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if Evaluate(govCfg()) != nil {
		t.Error("Evaluate of a config without rules is not nil")
	}
}

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   []string // "check subject"
	}{
		{name: "clean"},
		{
			name:   "undeclared audience",
			change: func(c *config.Config) { c.Clients[0].Audience = append(c.Clients[0].Audience, "billing") },
			want:   []string{"undeclared_audience billing"},
		},
		{
			name:   "API without scopes",
			change: func(c *config.Config) { c.Clients[2].Scopes = nil },
			want:   []string{"api_without_scopes orders"},
		},
		{
			name:   "a client nobody names needs no scopes",
			change: func(c *config.Config) { c.Clients[0].Scopes = nil },
		},
		{
			name:   "API without a secret or grant types",
			change: func(c *config.Config) { c.Clients[3].Secret = ""; c.Clients[3].GrantTypes = nil },
			want:   []string{"api_cannot_authenticate hr"},
		},
		{
			name: "public client as an audience",
			change: func(c *config.Config) {
				c.Clients[0].Secret = ""
				c.Clients[1].Audience = append(c.Clients[1].Audience, "web")
				c.Clients[0].Scopes = []string{"web:read"}
			},
			want: []string{"api_cannot_authenticate web"},
		},
		{
			name: "wildcards",
			change: func(c *config.Config) {
				c.Clients[0].RedirectURIs = []string{"https://web.example/*", "https://web.example/cb%20x"}
				c.Clients[0].PostLogoutRedirectURIs = []string{"https://"}
				c.Clients[0].Scopes = []string{"orders:*"}
				c.ExternalAudiences = append(c.ExternalAudiences, config.ExternalAudience{ID: "%"})
			},
			want: []string{"wildcard https://web.example/*", "wildcard https://", "wildcard orders:*", "wildcard %"},
		},
		{
			name: "wildcard audience",
			change: func(c *config.Config) {
				c.ExternalAudiences = append(c.ExternalAudiences, config.ExternalAudience{ID: "https:"})
				c.Clients[0].Audience = append(c.Clients[0].Audience, "https:")
			},
			want: []string{"wildcard https:", "wildcard https:"},
		},
		{
			name: "a route nobody reaching the API may call",
			change: func(c *config.Config) {
				c.Clients[2].Routes = []config.Route{
					{Path: "/orders/{id}", Methods: []string{"GET"}, Scopes: c.Clients[2].Scopes},
					{Path: "/orders/{id}", Methods: []string{"DELETE"}, Scopes: []string{"orders:delete"}},
				}
			},
			want: []string{"unreachable_route orders /orders/{id}"},
		},
		{
			name: "ids differing only in case",
			change: func(c *config.Config) {
				c.ExternalAudiences = append(c.ExternalAudiences, config.ExternalAudience{ID: "HR"})
			},
			want: []string{"case_collision hr, HR"},
		},
		{
			name:   "tags differing only in case",
			change: func(c *config.Config) { c.Clients[1].Tags = []string{"Internal"} },
			want:   []string{"case_collision Internal, internal"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := govCfg()
			if tc.change != nil {
				tc.change(cfg)
			}
			var got []string
			for _, w := range Build(cfg).Warnings {
				got = append(got, w.Check+" "+w.Subject)
				if w.Message == "" {
					t.Errorf("%s has no message", w.Check)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("warnings = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWildcardLike(t *testing.T) {
	for v, want := range map[string]bool{
		"*": true, "https://api.example/*": true, "%": true, "orders%": true, "https://": true, "http:": true,
		"https://api.example": false, "https://api.example/a%20b": false, "orders:read": false, "urn:x": false, "": false,
	} {
		if got := wildcardLike(v) != ""; got != want {
			t.Errorf("wildcardLike(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestMetadataClassUnderPolicy (issue 13): the clients known by metadata
// documents are one public row of the matrix, and policy rules judge what
// their class may obtain.
func TestMetadataClassUnderPolicy(t *testing.T) {
	cfg, err := config.Parse([]byte(`issuer: https://id.example.com
clients:
  - id: mcp-api
    resource_uri: https://mcp.example.com/mcp
    tags: [internal]
client_metadata_documents:
  allowed_hosts: [app.example.com]
  audience: [mcp-api]
policy:
  - name: public clients never reach internal APIs
    deny: {from_tags: [public], to_tags: [internal]}
`), "t.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := Build(cfg)
	if len(r.Violations) != 1 || r.Violations[0].Client != MetadataClassID || r.Violations[0].Audience != "mcp-api" {
		t.Errorf("violations: %+v", r.Violations)
	}
}

// TestExplainCanonicalResource: the audit explains a request naming a URI
// in any spelling of the shared table exactly as the endpoint decides it.
func TestExplainCanonicalResource(t *testing.T) {
	b, err := os.ReadFile("../oauth/testdata/resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Want, Err string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if tc.Err != "" || !strings.HasPrefix(tc.Want, "http") {
			continue
		}
		cfg, err := config.Parse([]byte(fmt.Sprintf(`issuer: https://id.example.com
clients:
  - id: job
    secret: job-secret-123456789
    grant_types: [client_credentials]
    audience: [%q]
external_audiences: [%q]
`, tc.Want, tc.Want)), "t.yaml", func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		x, _, err := Explain(cfg, "job", "", policy.Request{Resources: []string{tc.In}}, nil)
		if err != nil || !x.Granted || x.Audience.String() != tc.Want {
			t.Errorf("%q: %+v %v", tc.In, x, err)
		}
	}
}

// TestExchangeEdgesUnderPolicy (issue 14): reaching an audience by token
// exchange is judged by the policy rules like reaching it directly.
func TestExchangeEdgesUnderPolicy(t *testing.T) {
	cfg, err := config.Parse([]byte(`issuer: https://id.example.com
clients:
  - id: orders-api
    secret: orders-api-secret-123
    tags: [public-facing]
    exchange_to: [hr-api]
  - id: hr-api
    tags: [hr-data]
policy:
  - name: nothing public-facing reaches HR data
    deny: {from_tags: [public-facing], to_tags: [hr-data]}
`), "t.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := Build(cfg)
	if len(r.Exchanges) != 1 || len(r.Violations) != 1 || !strings.Contains(r.Violations[0].Message, "by token exchange") {
		t.Errorf("exchanges %v, violations %+v", r.Exchanges, r.Violations)
	}
}
