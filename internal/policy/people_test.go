package policy

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/oauth"
)

func TestForPerson(t *testing.T) {
	m := New([]Client{
		{ID: "portal", Audience: []string{"orders-api", "hr-api"}, GrantTypes: []string{oauth.GrantAuthorizationCode}},
		{ID: "hr-admin", Audience: []string{"hr-api"}, GrantTypes: []string{oauth.GrantAuthorizationCode}},
	},
		GroupRule{Name: "hr only", Audiences: []string{"hr-api"}, Groups: []string{"hr"}},
		GroupRule{Name: "admins", Audiences: []string{"hr-admin"}, Groups: []string{"hr-admins"}},
	)
	portal, _ := m.Authorization("portal", Request{})
	tests := []struct {
		name     string
		client   string
		g        Grant
		groups   []string
		named    []string
		wantAud  []string
		wantAZP  string
		wantCode string
	}{
		{"in group keeps all", "portal", portal, []string{"hr"}, nil, []string{"portal", "orders-api", "hr-api"}, "portal", ""},
		{"default audience loses the member silently", "portal", portal, []string{"sales"}, nil, []string{"portal", "orders-api"}, "portal", ""},
		{"no groups", "portal", portal, nil, nil, []string{"portal", "orders-api"}, "portal", ""},
		{"named target refused", "portal", portal, []string{"sales"}, []string{"hr-api"}, nil, "", oauth.CodeInvalidTarget},
		{"named other target fine", "portal", portal, []string{"sales"}, []string{"orders-api"}, []string{"portal", "orders-api"}, "portal", ""},
		{"group names compared exactly", "portal", portal, []string{"HR"}, nil, []string{"portal", "orders-api"}, "portal", ""},
		{"azp goes when only the client remains", "portal", Grant{Audience: oauth.Audience{"portal", "hr-api"}, AZP: "portal"}, nil, nil, []string{"portal"}, "", ""},
		{"client itself gated", "hr-admin", Grant{Audience: oauth.Audience{"hr-admin"}}, []string{"hr"}, nil, nil, "", oauth.CodeAccessDenied},
		{"client itself open to its group", "hr-admin", Grant{Audience: oauth.Audience{"hr-admin", "hr-api"}, AZP: "hr-admin"}, []string{"hr-admins", "hr"}, nil, []string{"hr-admin", "hr-api"}, "hr-admin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := []string{}
			g, oe := m.ExplainForPerson(tt.client, tt.g, tt.groups, tt.named, &why)
			g2, oe2 := m.ForPerson(tt.client, tt.g, tt.groups, tt.named)
			if (oe == nil) != (oe2 == nil) || !slices.Equal(g.Audience, g2.Audience) {
				t.Fatalf("explain and decision disagree: %v/%v %v/%v", g.Audience, g2.Audience, oe, oe2)
			}
			if tt.wantCode != "" {
				if oe == nil || oe.Code != tt.wantCode {
					t.Fatalf("got %v %v, want %s", g.Audience, oe, tt.wantCode)
				}
				return
			}
			if oe != nil {
				t.Fatalf("refused: %v (%v)", oe, why)
			}
			if !slices.Equal(g.Audience, tt.wantAud) || g.AZP != tt.wantAZP {
				t.Errorf("aud %v azp %q, want %v %q (%v)", g.Audience, g.AZP, tt.wantAud, tt.wantAZP, why)
			}
		})
	}
	// The grant passed in is not modified (it may be the model's shared default).
	if len(portal.Audience) != 3 {
		t.Errorf("default grant modified: %v", portal.Audience)
	}
}

// TestMetadataClass: a URL client id gets the class's policy once the
// class is set, and nothing without it; configured clients are unchanged.
func TestMetadataClass(t *testing.T) {
	m := New([]Client{{ID: "mcp-api", URI: "https://mcp.example.com/mcp"}})
	const id = "https://app.example.com/client.json"
	if _, oe := m.Authorization(id, Request{}); oe == nil || oe.Code != oauth.CodeInvalidClient {
		t.Fatalf("without a class: %v", oe)
	}
	m.SetMetadataClass(&MetadataClass{Audience: []string{"mcp-api"}, Scopes: []string{"mcp:tools"}})
	g, oe := m.Authorization(id, Request{Resources: []string{"https://mcp.example.com/mcp/"}})
	if oe != nil || g.Audience.String() != "https://mcp.example.com/mcp" || g.Scope != "mcp:tools" || g.AZP != id {
		t.Errorf("metadata client: %+v %v", g, oe)
	}
	if _, oe := m.Authorization(id, Request{Resources: []string{"https://other.example.com"}}); oe == nil {
		t.Error("beyond the class's audience")
	}
	if _, oe := m.ClientCredentials(id, Request{}); oe == nil {
		t.Error("a metadata client used client_credentials")
	}
	if _, oe := m.Authorization("not-a-url", Request{}); oe == nil {
		t.Error("an unknown plain id got the class")
	}
}

// TestExchange: the exchange decision's rules, narrow-only.
func TestExchange(t *testing.T) {
	m := New([]Client{
		{ID: "orders", Audience: []string{"inventory"}, ExchangeTo: []string{"inventory", "billing"}},
		{ID: "inventory", URI: "https://inventory.example.com", Scopes: []string{"stock:read", "orders:read"}},
		{ID: "billing", Scopes: []string{"invoices:read"}},
		{ID: "portal", Public: true, ExchangeTo: []string{"inventory"}},
		{ID: "plain"},
	})
	subject := []string{"orders:read", "profile", "invoices:read"}
	tests := []struct {
		name, client string
		req          Request
		aud, scope   string
		code         string
	}{
		{"everything exchange_to allows", "orders", Request{}, "inventory billing", "orders:read invoices:read", ""},
		{"narrowed to one", "orders", Request{Resources: []string{"inventory"}}, "inventory", "orders:read", ""},
		{"by the URI", "orders", Request{Resources: []string{"https://Inventory.example.com/"}}, "https://inventory.example.com", "orders:read", ""},
		{"scope narrowed", "orders", Request{Resources: []string{"billing"}, Scope: "invoices:read", ScopeGiven: true}, "billing", "invoices:read", ""},
		{"scope not in the subject", "orders", Request{Resources: []string{"inventory"}, Scope: "stock:read", ScopeGiven: true}, "", "", oauth.CodeInvalidScope},
		{"scope no target offers", "orders", Request{Resources: []string{"inventory"}, Scope: "profile", ScopeGiven: true}, "", "", oauth.CodeInvalidScope},
		{"outside exchange_to", "orders", Request{Resources: []string{"plain"}}, "", "", oauth.CodeInvalidTarget},
		{"public client", "portal", Request{}, "", "", oauth.CodeUnauthorizedClient},
		{"no exchange_to", "plain", Request{}, "", "", oauth.CodeUnauthorizedClient},
		{"unknown client", "nobody", Request{}, "", "", oauth.CodeInvalidClient},
	}
	for _, tt := range tests {
		g, oe := m.Exchange(tt.client, subject, tt.req)
		switch {
		case tt.code != "" && (oe == nil || oe.Code != tt.code):
			t.Errorf("%s: %+v %v, want %s", tt.name, g, oe, tt.code)
		case tt.code == "" && (oe != nil || g.Audience.String() != tt.aud || g.Scope != tt.scope || g.AZP != tt.client):
			t.Errorf("%s: %+v %v, want aud %q scope %q", tt.name, g, oe, tt.aud, tt.scope)
		}
	}
	if !m.Names(oauth.Audience{"portal", "https://inventory.example.com/"}, "inventory") || m.Names(oauth.Audience{"portal"}, "inventory") {
		t.Error("Names")
	}
}
