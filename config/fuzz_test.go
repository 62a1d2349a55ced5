package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that Parse never panics and always returns exactly one
// of a configuration or an error, and that an error is a non-empty *Error.
func FuzzParse(f *testing.F) {
	if shop, err := os.ReadFile("../examples/shop.yaml"); err == nil {
		f.Add(shop)
	}
	seeds := []string{
		"",
		"~",
		"issuer: https://login.example.com\n",
		"issuer: ${ISSUER}\nclients:\n  - id: a\n    secret: ${SECRET}$${x}\n",
		"issuer: [\n",
		"clients: &a [*a]\n",
		"a: &a [*a, *a]\nb: *a\n",
		"issuer: x\n---\nissuer: y\n",
		"clients:\n  - id: a\n    audience: [b, B, a]\n    scopes: ['x y', '']\nexternal_audiences: [a, {id: c}, [d]]\n",
		"users:\n  - username: u\n    password_hash: $argon2id$v=19$m=1,t=1,p=1$$\n    claims: {sub: 1, x: {1: 2}}\n",
		"users:\n  - username: u\n    password: $2a$99$\n",
		"\t\x00\xff",
		"<<: {issuer: x}\n",
		"clients:\n  - &c {id: a, routes: [*c], scopes: &s [x]}\n  - *c\n  - {id: b, tags: *s, audience: *s}\n",
		"external_audiences: [&e x, *e, {id: *e}]\npolicy:\n  - {name: r, deny: {from: *e, to: [*e]}, only: *e}\n",
		"users:\n  - &u {username: u, password: p, claims: &c {me: *c}}\n  - *u\n",
		"trusted_proxies: [10.1.2.3/8, 127.0.0.1, ~, [x]]\naccess_token_ttl: 0\nclients:\n  - {id: a, first_party: 'true', require_pkce: yes}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	env := mapEnv(map[string]string{"ISSUER": "https://login.example.com", "SECRET": "a-secret-from-env", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml", env)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v; want exactly one", cfg != nil, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *Error", err, err)
			}
			for _, p := range ce.Problems {
				if p.Message == "" || p.File != "fuzz.yaml" || p.Line < 0 {
					t.Fatalf("malformed problem %+v", p)
				}
			}
			return
		}
		// A valid configuration never has duplicate client ids.
		seen := map[string]bool{}
		for _, c := range cfg.Clients {
			if c.ID == "" || seen[c.ID] {
				t.Fatalf("accepted empty or duplicate client id %q", c.ID)
			}
			seen[c.ID] = true
		}
	})
}
