package config

import (
	"slices"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

func TestConnectorsParse(t *testing.T) {
	cfg := mustParse(t, tagged+`  - name: only HR reaches HR
    only_groups: {to: hr-api, groups: [hr]}
  - name: partners by tag
    only_groups: {to_tags: [partner], groups: [sales, hr]}
users:
  - {username: bob, password: pw, groups: [hr]}
connectors:
  - id: corp
    name: Corp SSO
    domains: [corp.example]
    oidc: {issuer: https://login.corp.example, client_id: gh, client_secret: "${CORP_SECRET}", claims: {groups: roles}}
  - id: staff
    name: Staff directory
    ldap:
      url: ldaps://ldap.corp.example
      bind_dn: cn=svc,dc=corp
      bind_password: ${LDAP_PW}
      user_base_dn: ou=people,dc=corp
      timeout: 2s
      pool_size: 8
`, env(map[string]string{"CORP_SECRET": "s3cret", "LDAP_PW": "pw"}))
	if c := cfg.Connector("corp"); c == nil || c.Kind() != "oidc" || c.OIDC.ClientSecret != "s3cret" || c.OIDC.Claims.Groups != "roles" {
		t.Fatalf("corp connector: %+v", c)
	}
	if l := cfg.Connector("staff").LDAP; l.PoolSize != 8 || l.Timeout.Seconds() != 2 {
		t.Errorf("ldap: %+v", l)
	}
	rules := cfg.PolicyGroupRules()
	if len(rules) != 2 || !slices.Equal(rules[0].Audiences, []string{"hr-api"}) || !slices.Equal(rules[1].Audiences, []string{"partner"}) {
		t.Errorf("group rules: %+v", rules)
	}
	if !slices.Equal(cfg.Users[0].Groups, []string{"hr"}) {
		t.Errorf("user groups: %v", cfg.Users[0].Groups)
	}
}

func TestConnectorsReject(t *testing.T) {
	vars := env(map[string]string{"S": "x"})
	oidc := "    oidc: {issuer: https://idp.example, client_id: gh}\n"
	tests := []struct{ name, src, want string }{
		{"no id", head + "connectors:\n  - name: X " + mark + "\n" + oidc, "connector without an id"},
		{"colon id", head + "connectors:\n  - id: 'a:b' " + mark + "\n    name: X\n" + oidc, `connector id "a:b" is not allowed`},
		{"local id", head + "connectors:\n  - id: local " + mark + "\n    name: X\n" + oidc, `connector id "local" is not allowed`},
		{"no name", head + "connectors:\n  - id: a " + mark + "\n" + oidc, `connector "a" has no name`},
		{"no kind", head + "connectors:\n  - id: a " + mark + "\n    name: X", "has neither oidc nor ldap"},
		{"both kinds", head + "connectors:\n  - id: a\n    name: X\n" + oidc + "    ldap: {url: ldaps://h, user_base_dn: dc=x} " + mark, "has both oidc and ldap"},
		{"literal secret", head + "connectors:\n  - id: a\n    name: X\n    oidc:\n      issuer: https://idp.example\n      client_id: gh\n      client_secret: plain " + mark, "must come from the environment"},
		{"http issuer", head + "connectors:\n  - id: a\n    name: X\n    oidc:\n      issuer: http://idp.example " + mark + "\n      client_id: gh", "must use https"},
		{"plain ldap", head + "connectors:\n  - id: a\n    name: X\n    ldap:\n      url: ldap://ldap.example " + mark + "\n      user_base_dn: dc=x", "would send passwords unencrypted"},
		{"starttls ldaps", head + "connectors:\n  - id: a\n    name: X\n    ldap:\n      url: ldaps://ldap.example\n      start_tls: true " + mark + "\n      user_base_dn: dc=x", "start_tls with ldaps"},
		{"literal bind password", head + "connectors:\n  - id: a\n    name: X\n    ldap:\n      url: ldaps://ldap.example\n      user_base_dn: dc=x\n      bind_dn: cn=svc\n      bind_password: pw " + mark, "must come from the environment"},
		{"pool not number", head + "connectors:\n  - id: a\n    name: X\n    ldap:\n      url: ldaps://ldap.example\n      user_base_dn: dc=x\n      pool_size: many " + mark, "not a non-negative whole number"},
		{"username colon", head + "users:\n  - username: 'a:b' " + mark + "\n    password: x", "contains ':'"},
		{"only_groups no groups", tagged + "  - name: a\n    only_groups: {to: hr-api} " + mark, "only_groups needs a to side and groups"},
		{"only_groups unknown to", tagged + "  - name: a\n    only_groups:\n      to: hr-apl " + mark + "\n      groups: [hr]", `did you mean "hr-api"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "test.yaml", vars)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			line := markedLine(tt.src)
			for _, p := range problems(t, err) {
				if p.Line == line && strings.Contains(p.Message+" ("+p.Hint+")", tt.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v", line, tt.want, err)
		})
	}
}

// TestResourceURIs (issue 13): audience values are written in canonical
// form, and an API's resource_uri is a second name of it.
func TestResourceURIs(t *testing.T) {
	cfg := mustParse(t, head+`clients:
  - id: agent
    secret: agent-secret-123456
    grant_types: [client_credentials]
    audience: [mcp-api, https://billing.example.com]
  - id: mcp-api
    resource_uri: https://mcp.example.com/mcp
external_audiences: [https://billing.example.com]
`, noEnv)
	if cfg.Client("mcp-api").ResourceURI != "https://mcp.example.com/mcp" || cfg.PolicyClients()[1].URI != "https://mcp.example.com/mcp" {
		t.Errorf("resource_uri: %+v", cfg.Client("mcp-api"))
	}
	for _, tc := range []struct{ name, src, want string }{
		{"trailing slash", head + "external_audiences: [https://billing.example.com/] " + mark, `write "https://billing.example.com"`},
		{"upper-case host", head + "clients:\n  - id: a\n    resource_uri: https://MCP.example.com/mcp " + mark, `write "https://mcp.example.com/mcp"`},
		{"fragment", head + "external_audiences: [https://billing.example.com/x#y] " + mark, "fragment"},
		{"not a URI", head + "clients:\n  - id: a\n    resource_uri: mcp " + mark, "not an http(s) URI"},
		{"another client's id", head + "clients:\n  - id: https://a.example\n  - id: b\n    resource_uri: https://a.example " + mark, "another client's id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml", noEnv)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			line := markedLine(tc.src)
			for _, p := range problems(t, err) {
				if p.Line == line && strings.Contains(p.Message+" ("+p.Hint+")", tc.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v", line, tc.want, err)
		})
	}
}

// TestMetadataClients: the trust policy of metadata-document clients.
func TestMetadataClients(t *testing.T) {
	cfg := mustParse(t, head+`clients:
  - id: mcp-api
    resource_uri: https://mcp.example.com/mcp
client_metadata_documents:
  allowed_hosts: [app.example.com, "*.tools.example.com"]
  audience: [https://mcp.example.com/mcp]
  scopes: [mcp:tools]
  tags: [agents]
`, noEnv)
	m := cfg.ClientMetadataDocuments
	if m == nil || !slices.Equal(m.MetadataClientTags(), []string{"agents", "public"}) || m.Audience[0] != "https://mcp.example.com/mcp" {
		t.Fatalf("%+v", m)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"no hosts", head + "client_metadata_documents:\n  scopes: [a] " + mark, "allowed_hosts is empty"},
		{"bad host", head + "client_metadata_documents:\n  allowed_hosts: ['*'] " + mark, "not a host name"},
		{"unknown audience", head + "client_metadata_documents:\n  allowed_hosts: [a.example]\n  audience: [nope] " + mark, `audience "nope" is not a client`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml", noEnv)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			line := markedLine(tc.src)
			for _, p := range problems(t, err) {
				if p.Line == line && strings.Contains(p.Message+" ("+p.Hint+")", tc.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q; got:\n%v", line, tc.want, err)
		})
	}
}
