package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// httpMethods are the methods a route may name, in the order hints list
// them. Read-only.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// validateRoutes checks a client's routes the way the proxy will use them:
// every pattern is registered on one net/http.ServeMux, so a pattern that
// does not parse or two that conflict are found here, not when a proxy
// fetches them.
func (d *decoder) validateRoutes(who string, c *Client, p *pos) {
	if len(c.Routes) > 0 && c.Public() {
		d.add(p.at("routes"), "give the client a secret: the proxy fetches the routes authenticated as the API", "%s: a public client (no secret) cannot declare routes", who)
	}
	mux := http.NewServeMux()
	for i := range c.Routes {
		r := &c.Routes[i]
		rp := d.posOf(r)
		where := fmt.Sprintf("%s: route %q", who, r.Path)
		ok := true
		switch {
		case r.Path == "":
			d.add(r.Line, "write path: /orders/{id}", "%s: a route needs a path", who)
			ok = false
		case !strings.HasPrefix(r.Path, "/"):
			d.add(rp.at("path"), "a route path starts with /, e.g. /orders/{id}; methods go under methods:, and a host is not part of it", "%s: path must start with /", where)
			ok = false
		case strings.IndexFunc(r.Path, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			d.add(rp.at("path"), "write methods under methods:, not in the path", "%s: path contains whitespace or control characters", where)
			ok = false
		}
		d.noDuplicates(where, "methods", r.Methods, rp)
		for j, m := range r.Methods {
			if slices.Contains(httpMethods, m) {
				continue
			}
			hint := "methods are upper-case: " + strings.Join(httpMethods, ", ")
			if up := strings.ToUpper(m); slices.Contains(httpMethods, up) {
				hint = fmt.Sprintf("write %q", up)
			}
			d.add(rp.item("methods", j), hint, "%s: %q is not an HTTP method", where, m)
			ok = false
		}
		d.noDuplicates(where, "scopes", r.Scopes, rp)
		for j, s := range r.Scopes {
			if bad := badScopeChar(s); s == "" || bad != "" {
				d.add(rp.item("scopes", j), "RFC 6749 §3.3: a scope is printable ASCII without spaces, '\"' or '\\'", "%s: %q is not a valid scope", where, s)
			}
		}
		if !ok {
			continue
		}
		for _, pat := range r.Patterns() {
			if err := register(mux, pat); err != nil {
				d.add(rp.at("path"), "see the pattern syntax of net/http.ServeMux: /orders/{id}, /files/{path...}, /static/ (a prefix), /exact/{$}", "%s: %v", where, err)
				break
			}
		}
	}
}

// register adds pattern to mux, turning ServeMux's panic on a malformed or
// conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}
