package policy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/oauth"
)

// shop is the background text's company, built in Go so these rules do not
// depend on the YAML loader.
// Every client is public (no secret), as in the YAML without secrets.
func shop() []Client {
	return []Client{
		{Public: true, ID: "customer-portal", GrantTypes: []string{"authorization_code", "refresh_token"},
			Audience: []string{"order-status-api"}, Scopes: []string{"openid", "profile", "orders:read"}},
		{Public: true, ID: "backoffice-portal", GrantTypes: []string{"authorization_code"},
			Audience: []string{"order-status-api", "hr-api"}, Scopes: []string{"openid", "orders:read", "hr:read"}},
		{Public: true, ID: "order-status-api", GrantTypes: []string{"client_credentials"}, Scopes: []string{"orders:read"}},
		{Public: true, ID: "hr-api", GrantTypes: []string{"client_credentials"}},
		{Public: true, ID: "order-sync-job", GrantTypes: []string{"client_credentials"},
			Audience: []string{"order-status-api", "https://billing.example.com"}, Scopes: []string{"orders:read", "orders:write"}},
	}
}

func TestGrant(t *testing.T) {
	m := New(shop())
	tests := []struct {
		name      string
		client    string
		req       Request
		wantAud   []string
		wantAZP   string
		wantScope string
		wantErr   string
	}{
		{name: "default audience is client plus configured audience",
			client: "customer-portal", wantAud: []string{"customer-portal", "order-status-api"},
			wantAZP: "customer-portal", wantScope: "openid profile orders:read"},
		{name: "backoffice reaches both APIs",
			client: "backoffice-portal", wantAud: []string{"backoffice-portal", "order-status-api", "hr-api"},
			wantAZP: "backoffice-portal", wantScope: "openid orders:read hr:read"},
		{name: "client without audience gets only itself and no azp",
			client: "hr-api", wantAud: []string{"hr-api"}, wantAZP: "", wantScope: ""},
		{name: "resource narrows to one API",
			client: "order-sync-job", req: Request{Resources: []string{"order-status-api"}},
			wantAud: []string{"order-status-api"}, wantAZP: "order-sync-job", wantScope: "orders:read orders:write"},
		{name: "resource may name an external URI audience exactly",
			client: "order-sync-job", req: Request{Resources: []string{"https://billing.example.com"}},
			wantAud: []string{"https://billing.example.com"}, wantAZP: "order-sync-job", wantScope: "orders:read orders:write"},
		{name: "repeated resources keep request order and drop duplicates",
			client: "backoffice-portal", req: Request{Resources: []string{"hr-api", "order-status-api", "hr-api"}},
			wantAud: []string{"hr-api", "order-status-api"}, wantAZP: "backoffice-portal", wantScope: "openid orders:read hr:read"},
		{name: "audience parameter is space separated",
			client: "backoffice-portal", req: Request{Audience: "hr-api order-status-api"},
			wantAud: []string{"hr-api", "order-status-api"}, wantAZP: "backoffice-portal", wantScope: "openid orders:read hr:read"},
		{name: "resource and audience combine",
			client: "backoffice-portal", req: Request{Resources: []string{"hr-api"}, Audience: "order-status-api"},
			wantAud: []string{"hr-api", "order-status-api"}, wantAZP: "backoffice-portal", wantScope: "openid orders:read hr:read"},
		{name: "narrowing to the client itself has no azp",
			client: "order-sync-job", req: Request{Resources: []string{"order-sync-job"}},
			wantAud: []string{"order-sync-job"}, wantAZP: "", wantScope: "orders:read orders:write"},
		{name: "customer portal can never name hr-api",
			client: "customer-portal", req: Request{Resources: []string{"hr-api"}}, wantErr: oauth.CodeInvalidTarget},
		{name: "one bad target refuses the whole request",
			client: "customer-portal", req: Request{Resources: []string{"order-status-api", "hr-api"}}, wantErr: oauth.CodeInvalidTarget},
		{name: "one bad audience value refuses the whole request",
			client: "order-sync-job", req: Request{Audience: "order-status-api hr-api"}, wantErr: oauth.CodeInvalidTarget},
		{name: "audience differing in case is refused",
			client: "order-sync-job", req: Request{Resources: []string{"Order-Status-API"}}, wantErr: oauth.CodeInvalidTarget},
		{name: "URI with trailing slash and upper-case host is the same audience, in canonical form",
			client: "order-sync-job", req: Request{Resources: []string{"HTTPS://Billing.example.com:443/"}},
			wantAud: []string{"https://billing.example.com"}, wantAZP: "order-sync-job", wantScope: "orders:read orders:write"},
		{name: "URI with a fragment is refused",
			client: "order-sync-job", req: Request{Resources: []string{"https://billing.example.com#x"}}, wantErr: oauth.CodeInvalidTarget},
		{name: "empty resource is refused",
			client: "order-sync-job", req: Request{Resources: []string{""}}, wantErr: oauth.CodeInvalidTarget},
		{name: "audience of only spaces is refused",
			client: "order-sync-job", req: Request{Audience: "  "}, wantErr: oauth.CodeInvalidTarget},
		{name: "unknown target is refused",
			client: "order-sync-job", req: Request{Resources: []string{"nope"}}, wantErr: oauth.CodeInvalidTarget},
		{name: "scope subset",
			client: "order-sync-job", req: Request{Scope: "orders:write", ScopeGiven: true},
			wantAud: []string{"order-sync-job", "order-status-api", "https://billing.example.com"}, wantAZP: "order-sync-job", wantScope: "orders:write"},
		{name: "scope duplicates collapse",
			client: "order-sync-job", req: Request{Scope: "orders:read  orders:read", ScopeGiven: true},
			wantAud: []string{"order-sync-job", "order-status-api", "https://billing.example.com"}, wantAZP: "order-sync-job", wantScope: "orders:read"},
		{name: "empty scope parameter means allowed scopes",
			client: "order-sync-job", req: Request{Scope: "", ScopeGiven: true},
			wantAud: []string{"order-sync-job", "order-status-api", "https://billing.example.com"}, wantAZP: "order-sync-job", wantScope: "orders:read orders:write"},
		{name: "scope outside allowed is refused",
			client: "order-sync-job", req: Request{Scope: "orders:read hr:read", ScopeGiven: true}, wantErr: oauth.CodeInvalidScope},
		{name: "scope differing in case is refused",
			client: "order-sync-job", req: Request{Scope: "Orders:Read", ScopeGiven: true}, wantErr: oauth.CodeInvalidScope},
		{name: "scope with a forbidden character is refused",
			client: "order-sync-job", req: Request{Scope: "orders:read\"", ScopeGiven: true}, wantErr: oauth.CodeInvalidScope},
		{name: "unknown client",
			client: "ghost", wantErr: oauth.CodeInvalidClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := m.Grant(tc.client, tc.req)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Grant = %+v, want error %s", g, tc.wantErr)
				}
				if err.Code != tc.wantErr {
					t.Fatalf("error code = %s (%s), want %s", err.Code, err.Description, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(g.Audience, tc.wantAud) {
				t.Errorf("aud = %q, want %q", g.Audience, tc.wantAud)
			}
			if g.AZP != tc.wantAZP {
				t.Errorf("azp = %q, want %q", g.AZP, tc.wantAZP)
			}
			if g.Scope != tc.wantScope {
				t.Errorf("scope = %q, want %q", g.Scope, tc.wantScope)
			}
		})
	}
}

// TestBackgroundTable checks the background text's table row by row.
func TestBackgroundTable(t *testing.T) {
	m := New(shop())
	want := map[string][]string{
		"customer-portal":   {"customer-portal", "order-status-api"},
		"backoffice-portal": {"backoffice-portal", "order-status-api", "hr-api"},
	}
	for client, aud := range want {
		if got := m.DefaultAudience(client); !slices.Equal(got, aud) {
			t.Errorf("%s: aud = %q, want %q", client, got, aud)
		}
	}
	if m.DefaultAudience("customer-portal").Contains("hr-api") {
		t.Fatal("a customer-portal token names hr-api")
	}
}

func TestInvalidTargetDescriptionNamesTheTarget(t *testing.T) {
	_, err := New(shop()).Grant("customer-portal", Request{Resources: []string{"hr-api"}})
	want := "client 'customer-portal' may not obtain a token for 'hr-api': its allowed audience is 'customer-portal order-status-api'"
	if err == nil || err.Description != want {
		t.Fatalf("description = %v, want %q", err, want)
	}
}

func TestMayUseGrant(t *testing.T) {
	m := New(shop())
	if !m.MayUseGrant("order-sync-job", oauth.GrantClientCredentials) {
		t.Error("order-sync-job should use client_credentials")
	}
	if m.MayUseGrant("customer-portal", oauth.GrantClientCredentials) {
		t.Error("customer-portal must not use client_credentials")
	}
	if m.MayUseGrant("ghost", oauth.GrantClientCredentials) {
		t.Error("unknown client granted")
	}
}

func BenchmarkGrantDefault(b *testing.B) {
	m := New(shop())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Grant("order-sync-job", Request{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExplainIsClientCredentials: Explain reports exactly what
// ClientCredentials decides, with reasons, for grants and refusals alike.
func TestExplainIsClientCredentials(t *testing.T) {
	clients := shop()
	for i := range clients {
		clients[i].Public = false
	}
	clients = append(clients, Client{ID: "spa", Public: true, GrantTypes: []string{"client_credentials"}})
	m := New(clients)
	tests := []struct {
		client string
		req    Request
		code   string
		reason string
	}{
		{"order-sync-job", Request{}, "", "no resource or audience parameter"},
		{"order-sync-job", Request{Resources: []string{"order-status-api"}}, "", "narrowed by resource/audience to 'order-status-api'"},
		{"order-sync-job", Request{Audience: "hr-api"}, oauth.CodeInvalidTarget, "audience 'hr-api' is not in the allowed audience"},
		{"order-sync-job", Request{Scope: "orders:read", ScopeGiven: true}, "", "scope = the requested scopes 'orders:read'"},
		{"order-sync-job", Request{Scope: "hr:read", ScopeGiven: true}, oauth.CodeInvalidScope, "requested scope 'hr:read' is not among"},
		{"hr-api", Request{}, "", "the token carries no scope"},
		{"customer-portal", Request{}, oauth.CodeUnauthorizedClient, "client_credentials is not in the grant_types"},
		{"spa", Request{}, oauth.CodeUnauthorizedClient, "public client"},
		{"nobody", Request{}, oauth.CodeInvalidClient, "no client 'nobody'"},
	}
	for _, tc := range tests {
		x := m.Explain(tc.client, tc.req)
		g, oe := m.ClientCredentials(tc.client, tc.req)
		code := ""
		if oe != nil {
			code = oe.Code
			if x.ErrorDescription != oe.Description || x.Status != oe.StatusOrDefault() {
				t.Errorf("%s %+v: explain %q %d, endpoint %q %d", tc.client, tc.req, x.ErrorDescription, x.Status, oe.Description, oe.StatusOrDefault())
			}
		} else if x.AZP != g.AZP || x.Scope != g.Scope || !slices.Equal(x.Audience, g.Audience) || !x.Granted {
			t.Errorf("%s %+v: explain %+v, endpoint %+v", tc.client, tc.req, x, g)
		}
		if x.Error != code || code != tc.code {
			t.Errorf("%s %+v: explain error %q, endpoint %q, want %q", tc.client, tc.req, x.Error, code, tc.code)
		}
		if !slices.ContainsFunc(x.Reasons, func(r string) bool { return strings.Contains(r, tc.reason) }) {
			t.Errorf("%s %+v: reasons %q lack %q", tc.client, tc.req, x.Reasons, tc.reason)
		}
	}
}

// TestNoLoaderOrTransportDeps: the audience model is pure (DESIGN.md): no
// YAML, no HTTP, no configuration loader.
func TestNoLoaderOrTransportDeps(t *testing.T) {
	for _, pkg := range []string{"github.com/gatehouse/gatehouse/internal/policy", "github.com/gatehouse/gatehouse/internal/issue"} {
		testkit.AssertNoDeps(t, pkg, "yaml", "net/http$", "gatehouse/config$")
	}
}

func TestNarrow(t *testing.T) {
	scopes := []string{"openid", "orders:read", "offline_access"}
	aud := []string{"web", "orders", "https://billing.example.com"}
	tests := []struct {
		name      string
		req       Request
		wantAud   []string
		wantScope string
		wantAZP   string
		wantErr   string
	}{
		{"nothing: the granted set", Request{}, aud, "openid orders:read offline_access", "web", ""},
		{"scope narrowed, duplicates dropped", Request{Scope: "orders:read openid orders:read", ScopeGiven: true}, aud, "orders:read openid", "web", ""},
		{"only spaces: the granted scopes", Request{Scope: "  ", ScopeGiven: true}, aud, "openid orders:read offline_access", "web", ""},
		{"scope widened", Request{Scope: "openid hr:read", ScopeGiven: true}, nil, "", "", oauth.CodeInvalidScope},
		{"resource narrows", Request{Resources: []string{"orders"}}, []string{"orders"}, "openid orders:read offline_access", "web", ""},
		{"to itself: no azp", Request{Resources: []string{"web"}}, []string{"web"}, "openid orders:read offline_access", "", ""},
		{"resource and audience together", Request{Resources: []string{"orders"}, Audience: "web  orders"}, []string{"orders", "web"}, "openid orders:read offline_access", "web", ""},
		{"resource not granted", Request{Resources: []string{"orders", "hr"}}, nil, "", "", oauth.CodeInvalidTarget},
		{"case matters", Request{Audience: "Orders"}, nil, "", "", oauth.CodeInvalidTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(nil).Narrow("web", scopes, aud, tt.req)
			if tt.wantErr != "" {
				if err == nil || err.Code != tt.wantErr {
					t.Fatalf("err %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g.Audience, tt.wantAud) || g.Scope != tt.wantScope || g.AZP != tt.wantAZP {
				t.Errorf("got aud %v scope %q azp %q", g.Audience, g.Scope, g.AZP)
			}
		})
	}
}

// TestResourceURIs: an API with a resource URI is reached by either name,
// in any spelling of the URI, and the token carries the name asked for;
// the shared table's spellings all narrow to the canonical form; a refresh
// may narrow to either name of a granted API.
func TestResourceURIs(t *testing.T) {
	m := New([]Client{
		{ID: "agent", Audience: []string{"mcp-api"}, GrantTypes: []string{oauth.GrantClientCredentials}},
		{ID: "mcp-api", URI: "https://mcp.example.com/mcp"},
	}, GroupRule{Name: "ops", Audiences: []string{"mcp-api"}, Groups: []string{"ops"}})
	for _, tc := range []struct {
		req     Request
		wantAud string
		wantErr string
	}{
		{Request{}, "agent mcp-api", ""},
		{Request{Resources: []string{"mcp-api"}}, "mcp-api", ""},
		{Request{Resources: []string{"https://mcp.example.com/mcp"}}, "https://mcp.example.com/mcp", ""},
		{Request{Resources: []string{"https://MCP.example.com:443/mcp/"}}, "https://mcp.example.com/mcp", ""},
		{Request{Resources: []string{"https://mcp.example.com/mcp2"}}, "", oauth.CodeInvalidTarget},
		{Request{Resources: []string{"https://mcp.example.com/MCP"}}, "", oauth.CodeInvalidTarget},
	} {
		g, oe := m.ClientCredentials("agent", tc.req)
		switch {
		case tc.wantErr != "" && (oe == nil || oe.Code != tc.wantErr):
			t.Errorf("%v: got %v %v, want %s", tc.req.Resources, g.Audience, oe, tc.wantErr)
		case tc.wantErr == "" && (oe != nil || g.Audience.String() != tc.wantAud):
			t.Errorf("%v: got %v %v, want %s", tc.req.Resources, g.Audience, oe, tc.wantAud)
		}
	}
	g, oe := m.Narrow("agent", nil, []string{"agent", "mcp-api"}, Request{Resources: []string{"https://mcp.example.com/mcp/"}})
	if oe != nil || g.Audience.String() != "https://mcp.example.com/mcp" {
		t.Errorf("refresh narrowing to the URI of a granted id: %v %v", g.Audience, oe)
	}
	if _, oe := m.Narrow("agent", nil, []string{"agent"}, Request{Resources: []string{"https://mcp.example.com/mcp"}}); oe == nil {
		t.Error("refresh widening to an API by its URI")
	}
	// Group rules name the API by id; the URI form is the same API.
	if ok, _ := m.Reachable("https://mcp.example.com/mcp", nil); ok {
		t.Error("the URI form escapes the group rule")
	}
	if _, oe := m.ForPerson("agent", Grant{Audience: oauth.Audience{"agent", "https://mcp.example.com/mcp"}}, nil, []string{"https://mcp.example.com/mcp/"}); oe == nil || oe.Code != oauth.CodeInvalidTarget {
		t.Errorf("a named URI the person may not reach: %v", oe)
	}
}

// TestResourceTable: every spelling in the shared table narrows a client
// allowed the canonical form to that form.
func TestResourceTable(t *testing.T) {
	b, err := os.ReadFile("../../oauth/testdata/resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Want, Err string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if tc.Err != "" {
			m := New([]Client{{ID: "c", GrantTypes: []string{oauth.GrantClientCredentials}}})
			if _, oe := m.ClientCredentials("c", Request{Resources: []string{tc.In}}); oe == nil || oe.Code != oauth.CodeInvalidTarget {
				t.Errorf("%q: %v, want invalid_target", tc.In, oe)
			}
			continue
		}
		m := New([]Client{{ID: "c", Audience: []string{tc.Want}, GrantTypes: []string{oauth.GrantClientCredentials}}})
		g, oe := m.ClientCredentials("c", Request{Resources: []string{tc.In}})
		if oe != nil || g.Audience.String() != tc.Want {
			t.Errorf("%q: %v %v, want %q", tc.In, g.Audience, oe, tc.Want)
		}
	}
}
