package config

import (
	"slices"
	"strings"
	"testing"
)

// tagged is a valid top of file with tagged clients and an external
// audience that policy cases can refer to.
const tagged = head + `clients:
  - id: web
    tags: [public]
    audience: [hr-api]
  - id: staff
    tags: [staff]
  - id: hr-api
    tags: [internal, hr-data]
external_audiences:
  - plain-partner
  - id: partner
    description: Partner API
    tags: [partner]
policy:
`

func TestPolicyParse(t *testing.T) {
	cfg := mustParse(t, tagged+`  - name: public never internal
    description: customers have no business in HR
    deny: {from_tags: [public], to_tags: [internal]}
  - name: only staff reach HR
    only: {to: hr-api, from: [staff, web]}
  - name: partner by id
    deny:
      from: web
      to: [partner]
  - name: APIs declare scopes
    require: api_scopes
`, noEnv)
	if got := cfg.Client("web").Tags; !slices.Equal(got, []string{"public"}) {
		t.Errorf("web tags = %q", got)
	}
	if got := cfg.Tags("partner"); !slices.Equal(got, []string{"partner"}) {
		t.Errorf("partner tags = %q", got)
	}
	if got := cfg.Tags("plain-partner"); got != nil {
		t.Errorf("plain-partner tags = %q", got)
	}
	if len(cfg.Policy) != 4 {
		t.Fatalf("policy = %+v", cfg.Policy)
	}
	r := cfg.Policy[0]
	if r.Name != "public never internal" || r.Description == "" || r.Kind() != RuleDeny || r.Line != 16 ||
		!slices.Equal(r.Deny.FromTags, []string{"public"}) || !slices.Equal(r.Deny.ToTags, []string{"internal"}) {
		t.Errorf("rule 0 = %+v", r)
	}
	if r := cfg.Policy[1]; r.Kind() != RuleOnly || !slices.Equal(r.Only.To, []string{"hr-api"}) || !slices.Equal(r.Only.From, []string{"staff", "web"}) {
		t.Errorf("rule 1 = %+v (a single to: value is a one-element list)", r)
	}
	if r := cfg.Policy[2]; !slices.Equal(r.Deny.From, []string{"web"}) || !slices.Equal(r.Deny.To, []string{"partner"}) {
		t.Errorf("rule 2 = %+v", r)
	}
	if r := cfg.Policy[3]; r.Kind() != RuleRequire || r.Require != RequireAPIScopes {
		t.Errorf("rule 3 = %+v", r)
	}
	m := cfg.Policy[0].Deny
	if !m.MatchesFrom("web", []string{"public"}) || m.MatchesFrom("web", []string{"Public"}) || !m.MatchesTo("x", []string{"a", "internal"}) {
		t.Error("Match compares tags wrongly")
	}
}

func TestPolicyRejects(t *testing.T) {
	tests := []struct {
		name string
		src  string // the line holding mark is the expected line
		want string // substring of "message (hint)"
	}{
		{"tag invalid", head + "clients:\n  - id: a\n    tags: ['two words'] " + mark, `invalid tag "two words"`},
		{"tag duplicate", head + "clients:\n  - id: a\n    tags:\n      - x\n      - x " + mark, `"x" appears twice in tags`},
		{"tags not list", head + "clients:\n  - id: a\n    tags: public " + mark, "tags must be a list"},
		{"external tag invalid", head + "external_audiences:\n  - id: p\n    tags: ['-x'] " + mark, `external audience "p": invalid tag "-x"`},
		{"policy not list", tagged[:len(tagged)-len("policy:\n")] + "policy: deny " + mark, "policy must be a list"},
		{"rule not mapping", tagged + "  - deny " + mark, "a policy rule must be a mapping"},
		{"rule without name", tagged + "  - require: api_scopes " + mark, "policy rule without a name"},
		{"rule name duplicate", tagged + "  - name: a\n    require: api_scopes\n  - name: a " + mark + "\n    require: tags", `duplicate policy rule name "a" (first defined at line 16`},
		{"rule without kind", tagged + "  - name: a " + mark, `policy rule "a" has no rule kind (add one of deny:`},
		{"unknown rule kind", tagged + "  - name: a\n    forbid: {from: web, to: hr-api} " + mark, `unknown key "forbid" in policy rule (a rule is name: plus one of deny:`},
		{"misspelt rule kind", tagged + "  - name: a\n    denny: {from: web, to: hr-api} " + mark, `did you mean "deny"?`},
		{"two kinds", tagged + "  - name: a\n    deny: {from: web, to: hr-api}\n    require: tags " + mark, "more than one kind: deny and require"},
		{"deny empty", tagged + "  - name: a\n    deny: " + mark, "deny is empty"},
		{"deny not mapping", tagged + "  - name: a\n    deny: [web, hr-api] " + mark, "deny must be a mapping"},
		{"deny one side", tagged + "  - name: a\n    deny: {from_tags: [public]} " + mark, "deny needs both a from side and a to side"},
		{"only one side", tagged + "  - name: a\n    only: {to: hr-api} " + mark, "only needs both a from side and a to side"},
		{"unknown match key", tagged + "  - name: a\n    deny: {from: web, to: hr-api, from_tag: [x]} " + mark, `did you mean "from_tags"?`},
		{"from unknown id", tagged + "  - name: a\n    only:\n      to: hr-api\n      from: [staf] " + mark, `from names "staf", which is not a client id (did you mean "staff"?)`},
		{"from external", tagged + "  - name: a\n    deny:\n      from: partner " + mark + "\n      to: hr-api", `from names external audience "partner"`},
		{"to unknown id", tagged + "  - name: a\n    only:\n      to: hr-apl " + mark + "\n      from: staff", `to names "hr-apl", which is not a client id or an external audience (did you mean "hr-api"?)`},
		{"from tag unknown", tagged + "  - name: a\n    deny:\n      from_tags: [publik] " + mark + "\n      to_tags: [internal]", `no client carries tag "publik" (did you mean "public"?`},
		{"from tag only on externals", tagged + "  - name: a\n    deny:\n      from_tags: [partner] " + mark + "\n      to_tags: [internal]", "carried only by external audiences"},
		{"to tag unknown", tagged + "  - name: a\n    deny:\n      from_tags: [public]\n      to_tags: [Internal] " + mark, `did you mean "internal"? tags are compared exactly`},
		{"to tag none", tagged + "  - name: a\n    deny:\n      from_tags: [public]\n      to_tags: [secret] " + mark, "tags in use: hr-data, internal, partner, public, staff"},
		{"require unknown", tagged + "  - name: a\n    require: api_scope " + mark, `unknown requirement "api_scope" (did you mean "api_scopes"?)`},
		{"require list", tagged + "  - name: a\n    require: [tags] " + mark, "require must be a single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "test.yaml", noEnv)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			line := markedLine(tt.src)
			for _, p := range problems(t, err) {
				if p.Line == line && strings.Contains(p.Message+" ("+p.Hint+")", tt.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v\nsource:\n%s", line, tt.want, err, tt.src)
		})
	}
}

// TestUnknownRuleKindOnce: a misspelt kind is one problem, not also "the
// rule has no kind".
func TestUnknownRuleKindOnce(t *testing.T) {
	_, err := Parse([]byte(tagged+"  - name: a\n    forbid: {from: web, to: hr-api}\n"), "test.yaml", noEnv)
	if ps := problems(t, err); len(ps) != 1 {
		t.Errorf("problems = %v, want exactly one", err)
	}
}

func TestLoadPolicyExamples(t *testing.T) {
	for _, name := range []string{"../examples/policy.yaml", "../examples/policy-violation.yaml"} {
		cfg, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cfg.Policy) == 0 || len(cfg.Client("hr-api").Tags) == 0 {
			t.Errorf("%s: no policy or tags loaded", name)
		}
	}
}
