package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/oauth"
)

// WhoCanReport answers "who can call METHOD PATH on this API": the route
// the request matches (with the proxy's matching: the API's routes as
// net/http ServeMux patterns) and the clients whose default audience names
// the API and whose allowed scopes cover the route's scopes.
type WhoCanReport struct {
	API    string `json:"api"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// Matched is false when no route matches: the proxy refuses the
	// request whatever the token, so nobody can call it.
	Matched bool `json:"matched"`
	// Route is the matching route, when Matched.
	Route *oauth.Route `json:"route,omitempty"`
	// Callers can obtain a token for the API with every scope the route
	// needs, in configuration order.
	Callers []Caller `json:"callers"`
	// MissingScopes are clients whose tokens name the API but cannot carry
	// every scope the route needs: the proxy answers them 403.
	MissingScopes []Caller `json:"missing_scopes"`
	// ViaExchange are the ways to reach the API through RFC 8693 token
	// exchanges (exchange_to), shortest first; those with Missing scopes
	// reach the API but are answered 403.
	ViaExchange []ExchangePath `json:"via_exchange"`
}

// Caller is one client in a WhoCanReport.
type Caller struct {
	Client string `json:"client"`
	// GrantTypes say how the client gets its tokens: client_credentials
	// on its own behalf, authorization_code on a signed-in user's.
	GrantTypes []string `json:"grant_types"`
	// Missing are the route's scopes the client is not allowed.
	Missing []string `json:"missing,omitempty"`
}

// WhoCan answers for request ("GET /orders/{id}"; a literal path such as
// /orders/42 works too) on the API client api.
func WhoCan(cfg *config.Config, api, request string) (*WhoCanReport, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(request), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("--who-can %q: write METHOD PATH, e.g. 'GET /orders/{id}'", request)
	}
	if strings.ToUpper(method) != method {
		return nil, fmt.Errorf("--who-can %q: the method is upper-case: %s", request, strings.ToUpper(method))
	}
	c := cfg.Client(api)
	if c == nil {
		return nil, fmt.Errorf("--api %q is not a client of %s", api, cfg.Path)
	}
	if len(c.Routes) == 0 {
		return nil, fmt.Errorf("client %q declares no routes: add routes: [{path: ..., methods: [...], scopes: [...]}] to it", api)
	}
	rep := &WhoCanReport{API: api, Method: method, Path: path, Callers: []Caller{}, MissingScopes: []Caller{}, ViaExchange: []ExchangePath{}}
	route, err := matchRoute(c.Routes, method, path)
	if err != nil {
		return nil, err
	}
	if route == nil {
		return rep, nil
	}
	rep.Matched = true
	rep.Route = &oauth.Route{Path: route.Path, Methods: cloneNonNil(route.Methods), Scopes: cloneNonNil(route.Scopes)}
	model := cfg.PolicyModel()
	for _, cl := range cfg.Clients {
		if len(cl.GrantTypes) == 0 || !slices.Contains(model.DefaultAudience(cl.ID), api) {
			continue
		}
		who := Caller{Client: cl.ID, GrantTypes: cloneNonNil(cl.GrantTypes)}
		for _, s := range route.Scopes {
			if !slices.Contains(cl.Scopes, s) {
				who.Missing = append(who.Missing, s)
			}
		}
		if len(who.Missing) == 0 {
			rep.Callers = append(rep.Callers, who)
		} else {
			rep.MissingScopes = append(rep.MissingScopes, who)
		}
	}
	rep.ViaExchange = append(rep.ViaExchange, exchangePaths(cfg, model, api, route.Scopes)...)
	return rep, nil
}

// matchRoute finds the route a request matches exactly as the proxy does:
// every route's patterns on one ServeMux.
func matchRoute(routes []config.Route, method, path string) (*config.Route, error) {
	type marker struct {
		http.Handler
		i int
	}
	mux := http.NewServeMux()
	for i := range routes {
		for _, p := range routes[i].Patterns() {
			if err := register(mux, p, marker{http.NotFoundHandler(), i}); err != nil {
				return nil, err
			}
		}
	}
	r := &http.Request{Method: method, Host: "api", URL: &url.URL{Path: path}, Header: http.Header{}}
	h, _ := mux.Handler(r)
	if m, ok := h.(marker); ok {
		return &routes[m.i], nil
	}
	return nil, nil
}

// register adds a pattern; the configuration was validated, so a panic
// here means a hand-built Config.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// WriteWhoCan renders the report as text or json.
func WriteWhoCan(w io.Writer, rep *WhoCanReport, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "text":
	default:
		return errors.New("--who-can writes text or json, not " + strconv.Quote(format))
	}
	ew := &errWriter{w: w}
	if !rep.Matched {
		fmt.Fprintf(ew, "%s %s on %s matches no route: the proxy refuses it (404/405) whatever the token, so no client can call it.\n",
			rep.Method, textValue(rep.Path), rep.API)
		return ew.err
	}
	methods := "any method"
	if len(rep.Route.Methods) > 0 {
		methods = strings.Join(rep.Route.Methods, ", ")
	}
	needs := "no scope (any valid token for " + rep.API + ")"
	if len(rep.Route.Scopes) > 0 {
		needs = "scope " + strings.Join(rep.Route.Scopes, " ")
	}
	fmt.Fprintf(ew, "%s %s on %s matches route %s [%s], which needs %s.\n\n", rep.Method, textValue(rep.Path), rep.API,
		textValue(rep.Route.Path), methods, needs)
	fmt.Fprintf(ew, "Can call it (default audience names %s, allowed scopes cover the route):\n", rep.API)
	if len(rep.Callers) == 0 {
		fmt.Fprintln(ew, "  nobody")
	}
	for _, c := range rep.Callers {
		fmt.Fprintf(ew, "  %-24s %s\n", textValue(c.Client), callerNote(c, rep.API))
	}
	if len(rep.MissingScopes) > 0 {
		fmt.Fprintf(ew, "\nReach %s but lack a scope (the proxy answers 403 insufficient_scope):\n", rep.API)
		for _, c := range rep.MissingScopes {
			fmt.Fprintf(ew, "  %-24s missing %s\n", textValue(c.Client), strings.Join(c.Missing, " "))
		}
	}
	writeExchangePaths(ew, rep)
	return ew.err
}

func callerNote(c Caller, api string) string {
	var notes []string
	if c.Client == api {
		notes = append(notes, "the API itself")
	}
	if slices.Contains(c.GrantTypes, "client_credentials") {
		notes = append(notes, "on its own (client_credentials)")
	}
	if slices.Contains(c.GrantTypes, "authorization_code") {
		notes = append(notes, "for a signed-in user (authorization_code)")
	}
	return strings.Join(notes, "; ")
}
