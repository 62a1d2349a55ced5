package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
)

// Routes is the set of route rules a proxy enforces (Config.Routes): each
// request must match a route, and its token must carry that route's
// scopes. Matching is net/http.ServeMux's: a route's path is a ServeMux
// pattern path ("/orders/{id}", "/files/{path...}", "/static/"), each
// method makes it a "METHOD /path" pattern, and the most specific pattern
// wins. A request that matches no route is refused (fail closed). The
// proxy matches r.URL.EscapedPath(), the path it forwards, and refuses
// paths an upstream could read as another route before matching (see
// Config.Routes), so ServeMux's redirects to a cleaned path never apply.
//
// Routes is safe for concurrent use. Set builds a new ServeMux and swaps
// it in atomically, so requests in flight finish with the rules they
// started with and a refresh never blocks them.
type Routes struct {
	cur atomic.Pointer[routeSnapshot]
}

// routeSnapshot is one immutable set of rules.
type routeSnapshot struct {
	mux   *http.ServeMux
	count int
	// scopes are every route's scopes, once each, in route order.
	scopes []string
}

// routeRule is what a route's patterns are registered with. It is never
// served: ServeHTTP only looks it up to learn the scopes.
type routeRule struct {
	scopes []string
}

func (*routeRule) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	// Unreachable: the proxy forwards matched requests itself.
	http.Error(w, "gatehouse proxy: internal routing error", http.StatusInternalServerError)
}

// NewRoutes returns Routes holding rs; see Set.
func NewRoutes(rs []oauth.Route) (*Routes, error) {
	t := &Routes{}
	if err := t.Set(rs); err != nil {
		return nil, err
	}
	return t, nil
}

// Set replaces the rules with rs. When rs is invalid (a path that is not a
// ServeMux pattern path, a method that is not upper-case, an invalid scope,
// two conflicting patterns) it returns an error naming the route and keeps
// the rules it had. An empty rs refuses every request.
func (t *Routes) Set(rs []oauth.Route) error {
	snap, err := buildRoutes(rs)
	if err != nil {
		return err
	}
	t.cur.Store(snap)
	return nil
}

// Scopes returns the scopes the routes in force name, once each: what the
// API's protected resource metadata lists as scopes_supported.
func (t *Routes) Scopes() []string {
	if t == nil {
		return nil
	}
	if s := t.cur.Load(); s != nil {
		return slices.Clone(s.scopes)
	}
	return nil
}

// Len returns how many routes are in force (0 for a nil Routes).
func (t *Routes) Len() int {
	if t == nil {
		return 0
	}
	if s := t.cur.Load(); s != nil {
		return s.count
	}
	return 0
}

func buildRoutes(rs []oauth.Route) (*routeSnapshot, error) {
	mux := http.NewServeMux()
	for i, r := range rs {
		if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " \t\r\n") {
			return nil, fmt.Errorf("proxy: route %d: path %q must start with / and contain no spaces", i+1, r.Path)
		}
		rule := &routeRule{scopes: append([]string(nil), r.Scopes...)}
		for _, s := range rule.scopes {
			if !oauth.ValidScopeToken(s) {
				return nil, fmt.Errorf("proxy: route %d (%s): %q is not a scope-token", i+1, r.Path, s)
			}
		}
		patterns := []string{r.Path}
		if len(r.Methods) > 0 {
			patterns = patterns[:0]
			for _, m := range r.Methods {
				if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t/") {
					return nil, fmt.Errorf("proxy: route %d (%s): %q is not an upper-case HTTP method", i+1, r.Path, m)
				}
				patterns = append(patterns, m+" "+r.Path)
			}
		}
		for _, p := range patterns {
			if err := handle(mux, p, rule); err != nil {
				return nil, fmt.Errorf("proxy: route %d: %w", i+1, err)
			}
		}
	}
	var scopes []string
	for _, r := range rs {
		for _, sc := range r.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return &routeSnapshot{mux: mux, count: len(rs), scopes: scopes}, nil
}

// handle registers a pattern, turning ServeMux's panic on a malformed or
// conflicting pattern into an error: rules come over the network and must
// never crash the proxy.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// match returns the scopes of the route r matches, or, when it matches
// none, the handler that answers it instead (ServeMux's 404, 405 with
// Allow, or redirect to the clean path).
func (t *Routes) match(r *http.Request) (scopes []string, matched bool, refuse http.Handler) {
	snap := t.cur.Load()
	if snap == nil {
		return nil, false, http.NotFoundHandler()
	}
	h, _ := snap.mux.Handler(r)
	if rule, ok := h.(*routeRule); ok {
		return rule.scopes, true, nil
	}
	return nil, false, h
}

// RouteFetcher fetches one API's routes from Gatehouse's routes endpoint
// (discovery: gatehouse_routes_endpoint), authenticating as the API with
// HTTP Basic. It remembers the last ETag so that an unchanged document
// costs a 304. Use one fetcher from one goroutine at a time.
type RouteFetcher struct {
	// Endpoint is the routes endpoint URL (see DiscoverRoutesEndpoint).
	Endpoint string
	// ClientID and ClientSecret are the API's client credentials.
	ClientID, ClientSecret string
	// HTTPClient is used for the requests; nil means a client with a
	// 10-second timeout.
	HTTPClient *http.Client

	etag string
}

// maxRoutesBody bounds what a fetch reads: a route set is small text.
const maxRoutesBody = 1 << 20

// Fetch gets the routes. changed is false (and routes nil) when the
// document is the one fetched last time.
func (f *RouteFetcher) Fetch(ctx context.Context) (routes []oauth.Route, changed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Endpoint, nil)
	if err != nil {
		return nil, false, fmt.Errorf("proxy: routes endpoint: %w", err)
	}
	// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(f.ClientID), url.QueryEscape(f.ClientSecret))
	req.Header.Set("Accept", "application/json")
	if f.etag != "" {
		req.Header.Set("If-None-Match", f.etag)
	}
	c := f.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("proxy: fetching routes: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRoutesBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("proxy: fetching routes: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && f.etag != "":
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oe)
		if oe.Error != "" {
			return nil, false, fmt.Errorf("proxy: fetching routes: %s: %s: %s", resp.Status, oe.Error, oe.Description)
		}
		return nil, false, fmt.Errorf("proxy: fetching routes: %s", resp.Status)
	case len(body) > maxRoutesBody:
		return nil, false, errors.New("proxy: fetching routes: the document is larger than 1 MiB")
	}
	var set oauth.RouteSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, false, fmt.Errorf("proxy: fetching routes: %w", err)
	}
	if set.API != f.ClientID {
		return nil, false, fmt.Errorf("proxy: fetching routes: the document is for %q, not %q", set.API, f.ClientID)
	}
	if set.Routes == nil {
		set.Routes = []oauth.Route{}
	}
	f.etag = resp.Header.Get("ETag")
	return set.Routes, true, nil
}

// DiscoverRoutesEndpoint reads gatehouse_routes_endpoint from the issuer's
// OpenID Connect discovery document. The endpoint receives the API's
// client secret, so it must have the issuer's scheme and host: a
// discovery document cannot send the secret anywhere else.
func DiscoverRoutesEndpoint(ctx context.Context, client *http.Client, issuer string) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	iss, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("proxy: issuer: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", fmt.Errorf("proxy: discovery: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("proxy: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("proxy: discovery: %s", resp.Status)
	}
	var doc map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRoutesBody)).Decode(&doc); err != nil {
		return "", fmt.Errorf("proxy: discovery: %w", err)
	}
	ep, _ := doc[oauth.DiscoveryRoutesEndpoint].(string)
	if ep == "" {
		return "", fmt.Errorf("proxy: the issuer's discovery document has no %s: it is not a Gatehouse that serves routes", oauth.DiscoveryRoutesEndpoint)
	}
	u, err := url.Parse(ep)
	if err != nil || u.Scheme != iss.Scheme || u.Host != iss.Host {
		return "", fmt.Errorf("proxy: %s %q is not on the issuer's origin %s://%s; refusing to send the client secret there",
			oauth.DiscoveryRoutesEndpoint, ep, iss.Scheme, iss.Host)
	}
	return ep, nil
}

// Refresh fetches the routes every interval until ctx ends and puts every
// changed set in force. A failed fetch or an invalid set is logged and
// the rules in force stay: an issuer outage must neither open the API nor
// shut it.
func (t *Routes) Refresh(ctx context.Context, f *RouteFetcher, every time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rs, changed, err := f.Fetch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("refreshing routes failed; the routes in force stay", "error", err)
			}
			continue
		}
		if !changed {
			continue
		}
		if err := t.Set(rs); err != nil {
			logger.Error("the issuer sent invalid routes; the routes in force stay", "error", err)
			continue
		}
		logger.Info("routes updated", "routes", len(rs))
	}
}
