package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/oauth"
)

// routeDoc is one API's answer at GET /routes, rendered once at start:
// routes change only with the configuration.
type routeDoc struct {
	body []byte
	etag string
}

// buildRouteDocs renders the routes document of every confidential client
// (a public one cannot authenticate to fetch it).
func buildRouteDocs(cfg *config.Config) (map[string]routeDoc, error) {
	docs := make(map[string]routeDoc, len(cfg.Clients))
	for _, c := range cfg.Clients {
		if c.Public() {
			continue
		}
		set := oauth.RouteSet{API: c.ID, Routes: make([]oauth.Route, 0, len(c.Routes))}
		for _, r := range c.Routes {
			set.Routes = append(set.Routes, oauth.Route{Path: r.Path,
				Methods: nonNil(r.Methods), Scopes: nonNil(r.Scopes)})
		}
		b, err := json.Marshal(set)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		docs[c.ID] = routeDoc{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	}
	return docs, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// routesCacheControl lets the proxy keep the document but makes it ask
// again (cheaply, If-None-Match) every time: a route change must reach it
// within its refresh interval, not after some max-age.
var routesCacheControl = []string{"private, no-cache"}

// handleRoutes answers GET /routes: the routes of the API that
// authenticates (HTTP Basic with its client credentials), and only those.
func (s *Server) handleRoutes(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	if r.URL.RawQuery != "" {
		s.writeError(w, r, oauth.InvalidRequest("GET /routes takes no parameters: authenticate as the API with HTTP Basic"))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		s.writeError(w, r, oauth.InvalidClient("authenticate as the API with HTTP Basic (client id and secret)"))
		return
	}
	c, oe := s.authenticateClient(w, r, oauth.Form{})
	if oe != nil {
		s.writeError(w, r, oe)
		return
	}
	doc, ok := s.routeDocs[c.cfg.ID]
	if !ok {
		s.writeError(w, r, oauth.UnauthorizedClient("a public client has no routes"))
		return
	}
	s.writeRouteDoc(w, r, doc)
}

// writeRouteDoc answers with doc, or 304 when the caller has it already.
func (s *Server) writeRouteDoc(w http.ResponseWriter, r *http.Request, doc routeDoc) {
	h := w.Header()
	h["Etag"] = []string{doc.etag}
	h["Cache-Control"] = routesCacheControl
	h["Vary"] = []string{"Authorization"}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// etagMatches is the weak comparison If-None-Match uses (RFC 9110
// §13.1.2) over a list of entity tags, or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
