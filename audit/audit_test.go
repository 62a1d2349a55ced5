package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// update rewrites the golden files: go test ./audit/ -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// shop is the background text's company, built in Go rather than loaded
// from YAML so these tests do not depend on config.Load. Customer portal
// and back-office portal sign users in; the order-status API is a pure
// resource server; the HR API and the nightly order sync call APIs with
// client credentials.
func shop() *config.Config {
	return &config.Config{
		Issuer: "https://login.shop.example",
		Clients: []config.Client{
			{
				ID: "customer-portal", Name: "Customer Portal", Secret: "customer-secret",
				RedirectURIs: []string{"https://shop.example/callback"},
				GrantTypes:   []string{"authorization_code", "refresh_token"},
				Audience:     []string{"order-status-api"},
				Scopes:       []string{"openid", "profile", "orders:read"},
			},
			{
				ID: "backoffice-portal", Name: "Back-office Portal", Secret: "backoffice-secret",
				RedirectURIs: []string{"https://backoffice.shop.example/callback"},
				GrantTypes:   []string{"authorization_code", "refresh_token"},
				Audience:     []string{"order-status-api", "hr-api"},
				Scopes:       []string{"openid", "profile", "orders:read", "orders:write", "hr:read"},
			},
			{
				ID: "order-status-api", Name: "Order Status API", Secret: "orders-secret",
			},
			{
				ID: "hr-api", Name: "Human Resource API", Secret: "hr-secret",
				GrantTypes: []string{"client_credentials"},
			},
			{
				ID: "order-sync-job", Name: "Order Sync Job", Secret: "sync-secret",
				GrantTypes: []string{"client_credentials"},
				Audience:   []string{"order-status-api"},
				Scopes:     []string{"orders:write"},
			},
		},
	}
}

// shopWithPartner adds what the shop fixture lacks: a declared external
// audience that the back office reaches, one nobody reaches, and a public
// client.
func shopWithPartner() *config.Config {
	cfg := shop()
	cfg.ExternalAudiences = []config.ExternalAudience{
		{ID: "https://pricing.partner.example", Description: "Partner pricing API"},
		{ID: "legacy-crm"},
	}
	cfg.Clients[1].Audience = append(cfg.Clients[1].Audience, "https://pricing.partner.example")
	cfg.Clients = append(cfg.Clients, config.Client{
		ID: "mobile-app", Name: "Shop App",
		GrantTypes: []string{"authorization_code", "refresh_token"},
		Audience:   []string{"order-status-api"},
		Scopes:     []string{"openid", "orders:read"},
	})
	return cfg
}

// shopPolicy is the shop with tags, an external partner API and rules, one
// of which the customer portal breaks by reaching the HR API.
func shopPolicy() *config.Config {
	cfg := shopWithPartner()
	tags := map[string][]string{
		"customer-portal":   {"public", "web"},
		"backoffice-portal": {"staff", "web"},
		"order-status-api":  {"api"},
		"hr-api":            {"api", "internal"},
		"order-sync-job":    {"internal"},
		"mobile-app":        {"public"},
	}
	for i := range cfg.Clients {
		cfg.Clients[i].Tags = tags[cfg.Clients[i].ID]
	}
	cfg.ExternalAudiences[0].Tags = []string{"partner"}
	cfg.Clients[0].Audience = append(cfg.Clients[0].Audience, "hr-api")
	cfg.Policy = []config.Rule{
		{Name: "public clients never reach internal APIs", Deny: &config.Match{FromTags: []string{"public"}, ToTags: []string{"internal"}}},
		{Name: "only the back office reaches HR", Only: &config.Match{To: []string{"hr-api"}, From: []string{"backoffice-portal"}}},
		{Name: "APIs declare their scopes", Require: config.RequireAPIScopes},
	}
	return cfg
}

func row(t *testing.T, r *Report, client string) []string {
	t.Helper()
	for _, m := range r.Matrix {
		if m.Client == client {
			return m.Audience
		}
	}
	t.Fatalf("no matrix row for %q", client)
	return nil
}

func reach(t *testing.T, r *Report, api string) []string {
	t.Helper()
	clients, ok := r.ClientsReaching(api)
	if !ok {
		t.Fatalf("%q is not listed as an API; reachable_by = %+v", api, r.ReachableBy)
	}
	return clients
}

// TestShopMatrixMatchesBackground reproduces the background text's table:
// the audience each portal's token carries.
func TestShopMatrixMatchesBackground(t *testing.T) {
	r := Build(shop())
	for client, want := range map[string][]string{
		"customer-portal":   {"customer-portal", "order-status-api"},
		"backoffice-portal": {"backoffice-portal", "order-status-api", "hr-api"},
		"order-sync-job":    {"order-sync-job", "order-status-api"},
		"hr-api":            {"hr-api"},
		"order-status-api":  {"order-status-api"},
	} {
		if got := row(t, r, client); !slices.Equal(got, want) {
			t.Errorf("default aud of %s = %q, want %q", client, got, want)
		}
	}

	var cols []string
	for _, a := range r.Audiences {
		cols = append(cols, a.ID)
	}
	wantCols := []string{"customer-portal", "backoffice-portal", "order-status-api", "hr-api", "order-sync-job"}
	if !slices.Equal(cols, wantCols) {
		t.Errorf("columns = %q, want %q (every client, config order)", cols, wantCols)
	}
}

func TestShopReachableBy(t *testing.T) {
	r := Build(shop())
	if got, want := reach(t, r, "hr-api"), []string{"backoffice-portal", "hr-api"}; !slices.Equal(got, want) {
		t.Errorf("hr-api reachable by %q, want %q", got, want)
	}
	// order-status-api has no grant types, so it does not count as
	// reaching itself.
	if got, want := reach(t, r, "order-status-api"), []string{"customer-portal", "backoffice-portal", "order-sync-job"}; !slices.Equal(got, want) {
		t.Errorf("order-status-api reachable by %q, want %q", got, want)
	}
	// Clients nobody else names are not APIs.
	var apis []string
	for _, a := range r.ReachableBy {
		apis = append(apis, a.API)
	}
	if want := []string{"order-status-api", "hr-api"}; !slices.Equal(apis, want) {
		t.Errorf("APIs = %q, want %q", apis, want)
	}
}

// TestCustomerPortalNeverReachesHR is the background text's point: "a
// customer has no business accessing the HR system".
func TestCustomerPortalNeverReachesHR(t *testing.T) {
	for name, cfg := range map[string]*config.Config{"shop": shop(), "shop+partner": shopWithPartner()} {
		r := Build(cfg)
		if r.Reaches("customer-portal", "hr-api") {
			t.Errorf("%s: customer-portal reaches hr-api", name)
		}
		if slices.Contains(row(t, r, "customer-portal"), "hr-api") {
			t.Errorf("%s: customer-portal's matrix row names hr-api", name)
		}
		if slices.Contains(reach(t, r, "hr-api"), "customer-portal") {
			t.Errorf("%s: hr-api lists customer-portal", name)
		}
		for _, format := range Formats() {
			var buf bytes.Buffer
			if err := Write(&buf, r, format); err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(buf.String(), "\n") {
				if strings.HasPrefix(strings.TrimLeft(l, "| `"), "hr-api") && strings.Contains(l, "customer-portal") {
					t.Errorf("%s/%s: hr-api line names customer-portal: %q", name, format, l)
				}
			}
		}
	}
}

func TestClientFacts(t *testing.T) {
	r := Build(shopWithPartner())
	byID := map[string]Client{}
	for _, c := range r.Clients {
		byID[c.ID] = c
	}
	if c := byID["order-status-api"]; c.CanObtainTokens || len(c.GrantTypes) != 0 || c.Type != TypeConfidential {
		t.Errorf("order-status-api = %+v, want a confidential pure API", c)
	}
	if c := byID["mobile-app"]; !c.CanObtainTokens || c.Type != TypePublic {
		t.Errorf("mobile-app = %+v, want a public client that obtains tokens", c)
	}
	if c := byID["customer-portal"]; c.Type != TypeConfidential || !slices.Equal(c.Scopes, []string{"openid", "profile", "orders:read"}) {
		t.Errorf("customer-portal = %+v", c)
	}
	if r.Reaches("order-status-api", "order-status-api") {
		t.Error("a client without grant types reaches its own audience")
	}
	if !r.Reaches("hr-api", "hr-api") {
		t.Error("hr-api (client_credentials) does not reach itself")
	}
}

func TestExternalAudienceShowsUp(t *testing.T) {
	r := Build(shopWithPartner())
	const partner = "https://pricing.partner.example"

	i := slices.IndexFunc(r.Audiences, func(a Audience) bool { return a.ID == partner })
	if i < 0 {
		t.Fatalf("external audience %q is not a column: %+v", partner, r.Audiences)
	}
	if a := r.Audiences[i]; a.Kind != KindExternal || a.Description != "Partner pricing API" {
		t.Errorf("column = %+v", a)
	}
	// Externals come after every client.
	if last := slices.IndexFunc(r.Audiences, func(a Audience) bool { return a.ID == "mobile-app" }); last > i {
		t.Errorf("external column %d before client column %d", i, last)
	}
	if got := row(t, r, "backoffice-portal"); !slices.Equal(got, []string{"backoffice-portal", "order-status-api", "hr-api", partner}) {
		t.Errorf("backoffice-portal aud = %q", got)
	}
	if got := reach(t, r, partner); !slices.Equal(got, []string{"backoffice-portal"}) {
		t.Errorf("%s reachable by %q", partner, got)
	}
	// A declared external that nobody uses is still listed, so an unused
	// declaration is visible in review.
	if got := reach(t, r, "legacy-crm"); len(got) != 0 || got == nil {
		t.Errorf("legacy-crm reachable by %#v, want an empty list", got)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), partner) || !regexp.MustCompile(`(?m)^legacy-crm +← nobody +external$`).MatchString(text.String()) {
		t.Errorf("text output misses the external audiences:\n%s", text.String())
	}
}

// TestExactComparison: audience values differing only in case are
// different recipients, and a value that is neither a client nor declared
// is reported, not dropped.
func TestExactComparison(t *testing.T) {
	cfg := shop()
	cfg.Clients[0].Audience = append(cfg.Clients[0].Audience, "HR-API", "customer-portal", "order-status-api")
	r := Build(cfg)
	if r.Reaches("customer-portal", "hr-api") {
		t.Error("HR-API matched hr-api")
	}
	if got, want := row(t, r, "customer-portal"), []string{"customer-portal", "order-status-api", "HR-API"}; !slices.Equal(got, want) {
		t.Errorf("aud = %q, want %q (self first, no duplicates)", got, want)
	}
	last := r.Audiences[len(r.Audiences)-1]
	if last.ID != "HR-API" || last.Kind != KindUndeclared {
		t.Errorf("last column = %+v, want HR-API undeclared", last)
	}
	if got := reach(t, r, "HR-API"); !slices.Equal(got, []string{"customer-portal"}) {
		t.Errorf("HR-API reachable by %q", got)
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, cfg := range []*config.Config{nil, {}} {
		r := Build(cfg)
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		want := `{"schema_version":1,"clients":[],"audiences":[],"matrix":[],"reachable_by":[],"rules":[],"violations":[],"warnings":[]}`
		var compact bytes.Buffer
		if err := json.Compact(&compact, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		if compact.String() != want {
			t.Errorf("JSON = %s, want %s", compact.String(), want)
		}
		for _, format := range Formats() {
			buf.Reset()
			if err := Write(&buf, r, format); err != nil || buf.Len() == 0 {
				t.Errorf("%s: empty report: %q, %v", format, buf.String(), err)
			}
		}
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, Build(shop()), "yaml")
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
	for _, name := range []string{`"yaml"`, "text", "markdown", "json", "dot", "html"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q for an unknown format", buf.String())
	}
	// Names are exact, like everything else here.
	if err := Write(&buf, Build(shop()), "JSON"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("JSON: err = %v", err)
	}
}

// TestHostileValues: configuration values cannot break the table layout or
// inject terminal escapes or Markdown cells.
func TestHostileValues(t *testing.T) {
	cfg := &config.Config{Clients: []config.Client{{
		ID:         "evil|api\x1b[2J",
		Name:       "a\tb | *c*",
		GrantTypes: []string{"client_credentials"},
		Audience:   []string{"x`y"},
	}}}
	cfg.Clients[0].Tags = []string{"<b>x</b>"}
	r := Build(cfg)
	var dot, page bytes.Buffer
	if err := r.WriteDOT(&dot); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(dot.String(), "\x1b\t") || strings.Contains(dot.String(), `"x`+"`"+`y" ->`) {
		t.Errorf("dot output holds a raw escape:\n%s", dot.String())
	}
	for _, bad := range []string{"\x1b", "<b>", "evil|api\x1b"} {
		if strings.Contains(page.String(), bad) {
			t.Errorf("html output holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page.String(), "&lt;b&gt;x&lt;/b&gt;") {
		t.Error("html output lost the escaped tag")
	}
	var text, md bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if strings.ContainsAny(out, "\x1b\t") {
			t.Errorf("%s output holds a raw escape or tab:\n%s", name, out)
		}
	}
	for _, l := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(l, "| `evil") && strings.Contains(strings.ReplaceAll(l, `\|`, ""), "evil|") {
			t.Errorf("unescaped pipe in markdown row %q", l)
		}
	}
	if !strings.Contains(md.String(), "`` x`y ``") {
		t.Errorf("backtick value not in a double-backtick span:\n%s", md.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorsReported(t *testing.T) {
	for _, format := range Formats() {
		if err := Write(failWriter{}, Build(shop()), format); err == nil {
			t.Errorf("%s: write error not reported", format)
		}
	}
}

// TestGolden pins the exact output of every format, so a change to the
// layout is a reviewed change to testdata/. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	fixtures := map[string]*config.Config{"shop": shop(), "shop-partner": shopWithPartner(), "shop-policy": shopPolicy()}
	ext := map[string]string{"text": "txt", "markdown": "md", "json": "json", "dot": "dot", "html": "html"}
	for name, cfg := range fixtures {
		for _, format := range Formats() {
			t.Run(name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, Build(cfg), format); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", name+".golden."+ext[format])
				if *update {
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./audit/ -update to create it)", err)
				}
				if got := buf.String(); got != string(want) {
					t.Errorf("%s differs from %s (run with -update after review)\n--- got\n%s\n--- want\n%s", format, path, got, want)
				}
			})
		}
	}
}

// TestJSONSchema checks the documented field names and types, independent
// of the golden file, so a renamed Go field cannot silently rename a
// schema field.
func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := Build(shopPolicy()).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Clients       []struct {
			ID              string   `json:"id"`
			Name            string   `json:"name"`
			Type            string   `json:"type"`
			GrantTypes      []string `json:"grant_types"`
			CanObtainTokens bool     `json:"can_obtain_tokens"`
			Scopes          []string `json:"scopes"`
			Tags            []string `json:"tags"`
		} `json:"clients"`
		Audiences []struct {
			ID          string   `json:"id"`
			Kind        string   `json:"kind"`
			Description string   `json:"description"`
			Tags        []string `json:"tags"`
		} `json:"audiences"`
		Matrix []struct {
			Client   string   `json:"client"`
			Audience []string `json:"audience"`
		} `json:"matrix"`
		ReachableBy []struct {
			API     string   `json:"api"`
			Kind    string   `json:"kind"`
			Clients []string `json:"clients"`
		} `json:"reachable_by"`
		Rules []struct {
			Name        string `json:"name"`
			Kind        string `json:"kind"`
			Description string `json:"description"`
			Summary     string `json:"summary"`
			Violations  int    `json:"violations"`
		} `json:"rules"`
		Violations []struct {
			Rule     string `json:"rule"`
			Kind     string `json:"kind"`
			Client   string `json:"client"`
			Audience string `json:"audience"`
			Message  string `json:"message"`
		} `json:"violations"`
		Warnings []struct {
			Check   string `json:"check"`
			Subject string `json:"subject"`
			Message string `json:"message"`
		} `json:"warnings"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JSON does not match the documented schema: %v", err)
	}
	if doc.SchemaVersion != 1 || len(doc.Clients) != 6 || len(doc.Matrix) != 6 {
		t.Errorf("doc = %+v", doc)
	}
	if doc.Clients[2].GrantTypes == nil || doc.Clients[2].Scopes == nil || doc.Audiences[len(doc.Audiences)-1].Tags == nil {
		t.Error("empty lists must be [] not null")
	}
	if len(doc.Rules) != 3 || len(doc.Violations) != 4 || doc.Violations[0].Client != "customer-portal" || doc.Violations[0].Audience != "hr-api" {
		t.Errorf("rules = %+v, violations = %+v", doc.Rules, doc.Violations)
	}
}
