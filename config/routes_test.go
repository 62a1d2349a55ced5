package config

import (
	"slices"
	"strings"
	"testing"
)

// api is a valid confidential client that route cases extend.
const api = head + `clients:
  - id: order-status-api
    secret: order-status-api-secret
    grant_types: [client_credentials]
    scopes: [orders:read]
`

func TestRoutesAndAdminsRejected(t *testing.T) {
	tests := []struct {
		name string
		src  string // the line holding mark is the expected line
		want string
	}{
		{"admin unknown", api + "admins: [order-status-apii] " + mark, `did you mean "order-status-api"?`},
		{"admin public", api + "  - id: spa\nadmins: [spa] " + mark, `client "spa" is public`},
		{"admin twice", api + "admins:\n  - order-status-api\n  - order-status-api " + mark, "appears twice"},
		{"admins not a list", api + "admins: order-status-api " + mark, "must be a list"},
		{"route unknown key", api + "    routes:\n      - path: /a\n        metods: [GET] " + mark, `did you mean "methods"?`},
		{"route not a mapping", api + "    routes:\n      - /orders " + mark, "a route must be a mapping"},
		{"route without path", api + "    routes:\n      - methods: [GET] " + mark, "a route needs a path"},
		{"route path relative", api + "    routes:\n      - path: orders/{id} " + mark, "path must start with /"},
		{"route path with method", api + "    routes:\n      - path: /a b " + mark, "whitespace"},
		{"route bad pattern", api + "    routes:\n      - path: '/a/{b' " + mark, "bad wildcard segment"},
		{"route bad wildcard name", api + "    routes:\n      - path: '/a/{b-c}' " + mark, "bad wildcard name"},
		{"route lower-case method", api + "    routes:\n      - path: /a\n        methods:\n          - get " + mark, `write "GET"`},
		{"route unknown method", api + "    routes:\n      - path: /a\n        methods:\n          - FETCH " + mark, "not an HTTP method"},
		{"route bad scope", api + "    routes:\n      - path: /a\n        scopes:\n          - 'a b' " + mark, "not a valid scope"},
		{"route conflict", api + "    routes:\n      - path: /o/{id}\n        methods: [GET]\n      - path: /o/{x} " + mark + "\n        methods: [GET]", "conflicts with"},
		{"route duplicate", api + "    routes:\n      - path: /o\n      - path: /o " + mark, "conflicts with"},
		{"routes of a public client", head + "clients:\n  - id: spa\n    routes:\n      - path: /a " + mark, "cannot declare routes"},
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

func TestRoutesAndAdminsAccepted(t *testing.T) {
	cfg := mustParse(t, api+`    routes:
      - path: /orders/{id}
        methods: [GET, DELETE]
        scopes: [orders:read, orders:admin]
      - {path: "/files/{path...}", scopes: [files]}
      - path: /static/
  - id: ops
    secret: ops-secret-0123456789
admins: [ops]
`, noEnv)
	rs := cfg.Client("order-status-api").Routes
	if len(rs) != 3 || rs[0].Path != "/orders/{id}" || !slices.Equal(rs[0].Patterns(), []string{"GET /orders/{id}", "DELETE /orders/{id}"}) ||
		!slices.Equal(rs[0].Scopes, []string{"orders:read", "orders:admin"}) || !slices.Equal(rs[1].Patterns(), []string{"/files/{path...}"}) {
		t.Errorf("routes = %+v", rs)
	}
	if !slices.Equal(cfg.Admins, []string{"ops"}) {
		t.Errorf("admins = %v", cfg.Admins)
	}
}
