package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// StaticPrefix is the URL path under which the pages expect the static
// assets; mount StaticHandler there:
//
//	mux.Handle(web.StaticPrefix, pages.StaticHandler())
const StaticPrefix = "/static/"

//go:embed static
var staticFS embed.FS

// contentType gives the Content-Type of the asset types we ship. An
// explicit list (rather than mime.TypeByExtension, which reads the host's
// mime.types) keeps the served type identical on every machine; New fails
// on an asset with an unlisted extension.
func contentType(ext string) (string, bool) {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8", true
	case ".svg":
		return "image/svg+xml", true
	case ".png":
		return "image/png", true
	}
	return "", false
}

// asset is one embedded static file under its content-hashed name.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets maps logical names ("style.css") to hashed names
// ("style.3b1f0c9a2d4e.css") and hashed names to content.
type assets struct {
	byLogical map[string]string
	byHashed  map[string]*asset
}

// loadAssets reads every embedded static file and names it after a hash of
// its content, so a changed file gets a new URL and the old one can be
// cached forever.
func loadAssets() (*assets, error) {
	a := &assets{byLogical: map[string]string{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		ct, ok := contentType(ext)
		if !ok {
			return fmt.Errorf("web: static asset %s: no content type for %q", name, ext)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		a.byLogical[name] = hashed
		a.byHashed[hashed] = &asset{body: body, contentType: ct, etag: `"` + hash + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// url returns the content-hashed URL of a logical asset name. Templates
// call it through the "asset" function; an unknown name is a template bug,
// reported as an error so New (and the tests) catch it.
func (a *assets) url(name string) (string, error) {
	h, ok := a.byLogical[name]
	if !ok {
		return "", fmt.Errorf("web: unknown asset %q", name)
	}
	return StaticPrefix + h, nil
}

// StaticHandler serves the embedded assets under their content-hashed
// names, e.g. /static/style.3b1f0c9a2d4e.css. It accepts the path with the
// StaticPrefix or already stripped of it (http.StripPrefix). Because a name
// changes whenever the content does, responses may be cached for a year and
// marked immutable. Unhashed or unknown names get 404, so a stale page can
// never pair with a different stylesheet.
func (p *Pages) StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, StaticPrefix), "/")
		a, ok := p.assets.byHashed[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		// Opened directly, an SVG is a document: give it no powers.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		// ServeContent answers HEAD, Range and If-None-Match (via the ETag).
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
