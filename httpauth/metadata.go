package httpauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
)

// ResourceMetadata is an OAuth 2.0 Protected Resource Metadata document
// (RFC 9728 §2): what a client learns about an API before it holds a
// token — above all which authorization servers issue tokens for it. MCP
// clients start their sign-in from it.
type ResourceMetadata struct {
	// Resource is the API's resource identifier, the value clients send
	// as RFC 8707 resource and that tokens carry in aud; written in
	// canonical form (oauth.CanonicalResource).
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers whose tokens the API accepts.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes the API understands.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported is how a token may be sent; default
	// ["header"] (RFC 6750 §2.1 only).
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a name for people.
	ResourceName string `json:"resource_name,omitempty"`
	// DPoPSigningAlgValuesSupported are the DPoP proof algorithms the API
	// accepts (RFC 9728 §2); filled from the verifier when it checks DPoP
	// and this is empty.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired says the API accepts only DPoP-bound
	// tokens (RFC 9728 §2); set when the middleware requires DPoP.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// WellKnownResourceMetadata is RFC 9728 §3's well-known path prefix.
const WellKnownResourceMetadata = "/.well-known/oauth-protected-resource"

const wellKnown = WellKnownResourceMetadata

// MetadataPath is where the metadata of resource is served on its host
// (RFC 9728 §3.1): the well-known suffix, followed by the resource's path
// when it has one (https://mcp.example.com/mcp →
// /.well-known/oauth-protected-resource/mcp).
func MetadataPath(resource string) (string, error) {
	u, err := resourceURL(resource)
	if err != nil {
		return "", err
	}
	return wellKnown + u.EscapedPath(), nil
}

// MetadataURL is the absolute URL of the metadata of resource: the
// well-known path inserted between the host and the resource's path and
// query (RFC 9728 §3.1).
func MetadataURL(resource string) (string, error) {
	u, err := resourceURL(resource)
	if err != nil {
		return "", err
	}
	out := u.Scheme + "://" + u.Host + wellKnown + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}

func resourceURL(resource string) (*url.URL, error) {
	c, err := oauth.CanonicalResource(resource)
	if err != nil {
		return nil, errors.New("httpauth: resource " + oauth.SafeName(resource) + ": " + err.Error())
	}
	if !oauth.IsResourceURI(c) {
		return nil, errors.New("httpauth: a protected resource is identified by an http(s) URI, not " + oauth.SafeName(resource))
	}
	u, err := url.Parse(c)
	if err != nil || !validHost(u.Hostname()) {
		// net/url takes hosts no client resolves ("a!b", quotes), which
		// would also break the challenge's quoted-string.
		return nil, errors.New("httpauth: resource " + oauth.SafeName(resource) + " has no valid host")
	}
	return u, nil
}

// validHost accepts a DNS name or an IP address.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if strings.Contains(h, ":") { // IPv6, from inside the brackets
		return strings.Trim(h, "0123456789abcdefABCDEF:.") == ""
	}
	return strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
}

// WithResourceMetadata makes the middleware describe its API (RFC 9728):
// every challenge carries resource_metadata with the document's URL, and
// MetadataHandler serves the document. meta.Resource is written in
// canonical form. New panics on a Resource that is not an http(s) URI
// (a programming error, like an invalid scope).
func WithResourceMetadata(meta ResourceMetadata) Option {
	return func(m *Middleware) {
		c, err := oauth.CanonicalResource(meta.Resource)
		if err == nil {
			meta.Resource = c
		}
		if len(meta.BearerMethodsSupported) == 0 {
			meta.BearerMethodsSupported = []string{"header"}
		}
		if m.metaURL, err = MetadataURL(meta.Resource); err != nil {
			panic(err.Error())
		}
		m.metaPath, _ = MetadataPath(meta.Resource)
		m.metaDoc = meta
	}
}

// marshalMetadata writes the document once the DPoP settings are known.
func (m *Middleware) marshalMetadata() {
	if m.metaURL == "" {
		return
	}
	doc := m.metaDoc
	if m.dpop != nil && len(doc.DPoPSigningAlgValuesSupported) == 0 {
		doc.DPoPSigningAlgValuesSupported = m.dpop.DPoPAlgorithms()
	}
	if m.dpopRequired {
		doc.DPoPBoundAccessTokensRequired = true
	}
	m.meta, _ = json.Marshal(doc)
}

// MetadataPath returns where MetadataHandler must be mounted ("" without
// WithResourceMetadata).
func (m *Middleware) MetadataPath() string { return m.metaPath }

// MetadataURL returns the metadata URL the challenges carry ("" without
// WithResourceMetadata).
func (m *Middleware) MetadataURL() string { return m.metaURL }

// MetadataHandler serves the metadata document: GET and HEAD, public
// (Access-Control-Allow-Origin: *, for browser clients; OPTIONS answers a
// preflight), cacheable for five minutes. Mount it at MetadataPath, and at
// WellKnownResourceMetadata for clients that look at the root, outside the
// token check.
func (m *Middleware) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch {
		case m.meta == nil:
			http.NotFound(w, r)
			return
		case r.Method == http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			w.WriteHeader(http.StatusNoContent)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.meta)
		}
	})
}

// IsMetadataRequest reports whether r asks for the metadata document: at
// its path-inserted path, or at the root well-known path, which clients
// try when they know only the host.
func (m *Middleware) IsMetadataRequest(r *http.Request) bool {
	if m.metaPath == "" {
		return false
	}
	p := r.URL.Path
	return p == m.metaPath || p == WellKnownResourceMetadata
}
