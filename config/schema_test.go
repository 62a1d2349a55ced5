package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAliasBombsRefused: files whose aliases expand far beyond their text
// are refused by the library's aliasing limit, whether the expansion goes
// through the schema (clients, routes, methods) or through free-form
// claims, and the schema pass itself stays linear in the text.
func TestAliasBombsRefused(t *testing.T) {
	// 300 clients × 300 routes × 50 methods, from about 1,000 lines.
	var schema strings.Builder
	schema.WriteString(head + "routes: &r\n")
	schema.WriteString("  - &route {path: /a, methods: [" + strings.TrimSuffix(strings.Repeat("GET, ", 50), ", ") + "]}\n")
	for range 299 {
		schema.WriteString("  - *route\n")
	}
	schema.WriteString("clients:\n  - &c\n    id: a\n    secret: a-long-enough-secret\n    routes: *r\n")
	for range 299 {
		schema.WriteString("  - *c\n")
	}

	// The classic: nine levels of nine references each.
	var claims strings.Builder
	claims.WriteString(head + "users:\n  - username: u\n    password: p\n    claims:\n")
	claims.WriteString("      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&claims, "      l%d: &l%d [%s]\n", i, i, refs)
	}

	for name, src := range map[string]string{"schema": schema.String(), "claims": claims.String()} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(src), "test.yaml", noEnv)
			ps := problems(t, err)
			if !strings.Contains(fmt.Sprint(ps), "excessive aliasing") {
				t.Errorf("want a refusal for excessive aliasing; got:\n%v", err)
			}
		})
	}
}

// TestSchemaCovered: every struct type the schema reaches has a shape
// (what its problems say), and every field has a type the schema pass
// handles, so a field added to types.go cannot be silently mishandled.
func TestSchemaCovered(t *testing.T) {
	scalars := map[reflect.Type]bool{
		reflect.TypeFor[string](): true, reflect.TypeFor[bool](): true,
		durationType: true, prefixType: true, intType: true,
	}
	seen := map[reflect.Type]bool{}
	var walk func(st reflect.Type)
	walk = func(st reflect.Type) {
		if seen[st] {
			return
		}
		seen[st] = true
		if _, ok := shapes[st]; !ok {
			t.Errorf("struct %v has no entry in shapes", st)
		}
		for _, f := range fieldsOf(st) {
			ft := f.typ
			switch {
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool:
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem())
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft.Elem() != prefixType:
				walk(ft.Elem())
			case ft.Kind() == reflect.Slice && scalars[ft.Elem()]:
			case ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String:
			case scalars[ft]:
			default:
				t.Errorf("%v.%s: type %v is not handled by the schema pass", st, f.key, ft)
			}
			if f.oneOrMany && ft.Kind() != reflect.Slice {
				t.Errorf("%v.%s: one_or_many on a %v", st, f.key, ft)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	for st := range shapes {
		if !seen[st] {
			t.Errorf("shapes has %v, which the schema does not reach", st)
		}
	}
}

// TestKnownKeysInDeclarationOrder: hints list keys in the order of the
// struct fields, which is the order they had when they were listed by hand.
func TestKnownKeysInDeclarationOrder(t *testing.T) {
	_, err := Parse([]byte(head+"clients:\n  - id: a\n    zzz: 1\n"), "test.yaml", noEnv)
	want := "known keys: id, name, secret, redirect_uris, grant_types, audience, scopes, first_party, post_logout_redirect_uris, tags, require_pkce, id_token_signed_response_alg, routes, id_token_scope_claims, allowed_origins, groups_claim, resource_uri, exchange_to, jwks, jwks_uri, dpop_bound_access_tokens"
	if ps := problems(t, err); len(ps) != 1 || ps[0].Hint != want {
		t.Errorf("got %v, want the hint %q", err, want)
	}
	_, err = Parse([]byte(head+"zzz: 1\n"), "test.yaml", noEnv)
	want = "known keys: issuer, listen, tls, storage, signing_alg, access_token_ttl, refresh_token_ttl, key_rotation_period, clients, external_audiences, users, client_metadata_documents, dynamic_registration, connectors, policy, trusted_proxies, dpop, max_delegation_depth, admins"
	if ps := problems(t, err); len(ps) != 1 || ps[0].Hint != want {
		t.Errorf("got %v, want the hint %q", err, want)
	}
}

// TestScalarsAsWritten: the values the library decodes are the text as
// written (strings), true/false only however quoted (booleans), a Go
// duration however tagged, and an address or a prefix, masked.
func TestScalarsAsWritten(t *testing.T) {
	src := head + `access_token_ttl: 0
refresh_token_ttl: "90m"
trusted_proxies: [10.1.2.3/8, 127.0.0.1, '::1']
clients:
  - id: 0123
    name: !!int 7
    secret: 1e3-but-long-enough
    first_party: 'true'
    require_pkce: false
    id_token_scope_claims: ${FLAG}
    scopes: [1, 2.50, ~x]
`
	cfg := mustParse(t, src, mapEnv(map[string]string{"FLAG": "true"}))
	c := cfg.Clients[0]
	if c.ID != "0123" || c.Name != "7" || c.Secret != "1e3-but-long-enough" || !slices.Equal(c.Scopes, []string{"1", "2.50", "~x"}) {
		t.Errorf("strings not as written: %+v", c)
	}
	if !c.FirstParty || c.RequirePKCE == nil || *c.RequirePKCE || !c.IDTokenScopeClaims {
		t.Errorf("booleans: first_party %v, require_pkce %v, id_token_scope_claims %v", c.FirstParty, c.RequirePKCE, c.IDTokenScopeClaims)
	}
	if cfg.AccessTokenTTL != DefaultAccessTokenTTL || cfg.RefreshTokenTTL != 90*time.Minute {
		t.Errorf("durations: %v, %v", cfg.AccessTokenTTL, cfg.RefreshTokenTTL)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Errorf("trusted_proxies = %v, want %v", cfg.TrustedProxies, want)
	}
}

// TestShapeProblems covers problems of the schema pass that the tests of
// load_test.go do not reach.
func TestShapeProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string // the line holding mark is the expected line
		want string
	}{
		{"key not plain", head + "clients:\n  - id: a\n    [x]: 1 " + mark, `a key in client is not a plain name (keys are plain names such as id)`},
		{"repeated client key", head + "clients:\n  - id: a\n    id: b " + mark, `key "id" is repeated in client (it is first set at line 3; keep one)`},
		{"merge key in client", head + "clients:\n  - &c {id: a}\n  - <<: *c " + mark, "merge keys are not supported"},
		{"first_party yes", head + "clients:\n  - id: a\n    first_party: yes " + mark, "first_party must be true or false (write first_party: true or first_party: false)"},
		{"bool as list", head + "clients:\n  - id: a\n    first_party: [true] " + mark, "first_party must be true or false"},
		{"name as mapping", head + "clients:\n  - id: a\n    name: {x: 1} " + mark, "name must be a single value, not a mapping"},
		{"null list entry", head + "clients:\n  - ~ " + mark, "a client must be a mapping"},
		{"user as list", head + "users:\n  - [a] " + mark, "a user must be a mapping"},
		{"users not list", head + "users: alice " + mark, `users must be a list (start each entry with "- ")`},
		{"trusted proxy as list", head + "trusted_proxies:\n  - [10.0.0.0/8] " + mark, "each entry of trusted_proxies must be a single non-empty value"},
		{"claims tag", head + "users:\n  - username: a\n    password: x\n    claims: {n: !!int x} " + mark, "claims: cannot decode"},
		{"unknown route key typo", head + "clients:\n  - id: a\n    routes:\n      - {pth: /a} " + mark, `unknown key "pth" in route (did you mean "path"?)`},
		{"unknown external key", head + "external_audiences:\n  - {id: x, zzz: 1} " + mark, "known keys: id, description, tags"},
		{"unknown user key", head + "users:\n  - username: a\n    pasword: x " + mark, `did you mean "password"?`},
		{"only not mapping", tagged + "  - name: a\n    only: hr-api " + mark, "only must be a mapping of from, from_tags, to and to_tags (write e.g. only: {from_tags: [public], to_tags: [internal]})"},
		{"self-containing anchor", head + "users:\n  - username: a\n    password: x\n    claims: &c {me: *c} " + mark, "claims: anchor 'c' value contains itself"},
		{"anchor list inside itself", head + "clients: &a [*a] " + mark, "a client must be a mapping"},
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

// TestTwoKindsEachAtItsLine: a rule with both deny: and only: has its
// kinds reported, and each match's values are reported at their own
// lines (the two matches keep separate positions).
func TestTwoKindsEachAtItsLine(t *testing.T) {
	src := tagged + "  - name: a\n    deny: {from: web, to: nope1}\n    only: {from: [staff, staff], to: nope2}\n"
	_, err := Parse([]byte(src), "test.yaml", noEnv)
	got := map[string]int{}
	for _, p := range problems(t, err) {
		got[p.Message] = p.Line
	}
	for msg, line := range map[string]int{
		`policy rule "a" has more than one kind: deny and only`:                               18,
		`policy rule "a": to names "nope1", which is not a client id or an external audience`: 17,
		`policy rule "a": to names "nope2", which is not a client id or an external audience`: 18,
		`policy rule "a": "staff" appears twice in from`:                                      18,
	} {
		if l, ok := got[msg]; !ok || l != line {
			t.Errorf("want %q at line %d; got:\n%v", msg, line, err)
		}
	}
}

// TestAliasesDecode: entries, lists and values given by alias decode to
// the same values as written out, each entry at the line of its alias.
func TestAliasesDecode(t *testing.T) {
	src := head + `clients:
  - &c
    id: a
    scopes: &s [x, y]
  - id: b
    scopes: *s
    tags: *s
external_audiences:
  - &e {id: partner}
users:
  - &u
    username: u
    password: p
    claims: &claims {name: U}
  - username: v
    password: p
    claims: *claims
`
	cfg := mustParse(t, src, noEnv)
	if b := cfg.Client("b"); !slices.Equal(b.Scopes, []string{"x", "y"}) || !slices.Equal(b.Tags, []string{"x", "y"}) || b.Line != 6 {
		t.Errorf("client b = %+v", b)
	}
	if cfg.Users[1].Claims["name"] != "U" {
		t.Errorf("aliased claims = %v", cfg.Users[1].Claims)
	}
}
