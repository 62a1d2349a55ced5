package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// hopShop is the shop fixture one hop further and more: the Order Status
// API may exchange for the Inventory API, which may exchange for the
// Warehouse API, which may exchange for the Carrier API; each declares a
// route needing orders:read.
func hopShop(depth int) *config.Config {
	cfg := shop()
	cfg.MaxDelegationDepth = depth
	route := []config.Route{{Path: "/x", Methods: []string{"GET"}, Scopes: []string{"orders:read"}}}
	cfg.Client("order-status-api").ExchangeTo = []string{"inventory-api"}
	cfg.Client("order-status-api").Scopes = []string{"orders:read"}
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: "inventory-api", Secret: "s", Scopes: []string{"orders:read"}, ExchangeTo: []string{"warehouse-api"}, Routes: route},
		config.Client{ID: "warehouse-api", Secret: "s", Scopes: []string{"orders:read"}, ExchangeTo: []string{"carrier-api"}, Routes: route},
		config.Client{ID: "carrier-api", Secret: "s", Scopes: []string{"orders:read"}, Routes: route},
		config.Client{ID: "public-api", Scopes: []string{"orders:read"}, ExchangeTo: []string{"carrier-api"}})
	return cfg
}

// TestWhoCanThroughHops: who reaches an API through exchanges, by which
// path, within max_delegation_depth (a person's token counts its client as
// an actor), with the scopes each hop can carry; public clients cannot
// exchange.
func TestWhoCanThroughHops(t *testing.T) {
	for _, tc := range []struct {
		name, api string
		depth     int
		want      []string
	}{
		{"one hop", "inventory-api", 3, []string{
			"customer-portal → order-status-api ⇒ inventory-api [authorization_code]",
			"backoffice-portal → order-status-api ⇒ inventory-api [authorization_code]",
			"order-sync-job → order-status-api ⇒ inventory-api [client_credentials] missing orders:read"}},
		{"two hops", "warehouse-api", 3, []string{
			"customer-portal → order-status-api ⇒ inventory-api ⇒ warehouse-api [authorization_code]",
			"backoffice-portal → order-status-api ⇒ inventory-api ⇒ warehouse-api [authorization_code]",
			"order-sync-job → order-status-api ⇒ inventory-api ⇒ warehouse-api [client_credentials] missing orders:read"}},
		{"three hops: only a client's own token fits depth 3", "carrier-api", 3, []string{
			"order-sync-job → order-status-api ⇒ inventory-api ⇒ warehouse-api ⇒ carrier-api [client_credentials] missing orders:read"}},
		{"depth 1: a person's token cannot be exchanged at all", "inventory-api", 1, []string{
			"order-sync-job → order-status-api ⇒ inventory-api [client_credentials] missing orders:read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := WhoCan(hopShop(tc.depth), tc.api, "GET /x")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range rep.ViaExchange {
				s := p.String(tc.api) + " [" + strings.Join(p.GrantTypes, " ") + "]"
				if len(p.Missing) > 0 {
					s += " missing " + strings.Join(p.Missing, " ")
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("paths:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestExchangeEdgesInPictures: the DOT and HTML pictures draw exchange
// edges apart from the direct ones.
func TestExchangeEdgesInPictures(t *testing.T) {
	r := Build(hopShop(3))
	var dot, html bytes.Buffer
	if err := r.WriteDOT(&dot); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	var text, md bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !strings.Contains(out, "⇒ reached by token exchange") || !strings.Contains(out, "⇒ by token exchange through") {
			t.Errorf("%s lacks the exchange legend or the reach note:\n%s", name, out)
		}
	}
	for _, l := range strings.Split(text.String(), "\n") {
		// The matrix row of the Order Status API: ⇒ under inventory-api
		// (the 6th audience column), nothing else exchanged.
		if f := strings.Fields(l); len(f) == 10 && f[0] == "order-status-api" && (f[6] != "⇒" || strings.Count(l, "⇒") != 1) {
			t.Errorf("order-status-api's matrix row: %q", l)
		}
	}
	if !strings.Contains(dot.String(), `"order-status-api" -> "inventory-api" [style="dashed", color="#7c3aed", fontcolor="#7c3aed", label="exchange"`) {
		t.Errorf("dot lacks the exchange edge:\n%s", dot.String())
	}
	if !strings.Contains(html.String(), "order-status-api ⇒ inventory-api by token exchange") ||
		!strings.Contains(html.String(), `stroke="#7c3aed"`) {
		t.Errorf("html lacks the exchange edge")
	}
}
