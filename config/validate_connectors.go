package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// validConnectorID is the shape of a connector ID: it starts every subject
// the source vouches for ("corp:SUB"), so it has no colon, and it appears
// in URLs (/upstream/ID/callback) and idp_hint, so it stays plain.
var validConnectorID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validateConnectors checks every identity source: a unique, plain ID, a
// name for the login page, exactly one kind, and that kind's settings.
func (d *decoder) validateConnectors(cfg *Config) {
	ids := map[string]int{}
	domains := map[string]string{}
	for i := range cfg.Connectors {
		c := &cfg.Connectors[i]
		p := d.posOf(c)
		who := fmt.Sprintf("connector %q", c.ID)
		switch {
		case c.ID == "":
			d.add(c.Line, "add id: NAME; it prefixes the subjects of the people it signs in", "connector without an id")
			who = fmt.Sprintf("connector at line %d", c.Line)
		case !validConnectorID.MatchString(c.ID) || c.ID == "local":
			d.add(p.at("id"), "lower-case letters, digits, '-' and '_', at most 32, not \"local\"; it starts subjects (ID:SUB), so no ':'", "connector id %q is not allowed", c.ID)
		case ids[c.ID] != 0:
			d.add(p.at("id"), fmt.Sprintf("first defined at line %d", ids[c.ID]), "duplicate connector id %q", c.ID)
		default:
			ids[c.ID] = c.Line
		}
		if strings.TrimSpace(c.Name) == "" {
			d.add(p.at("name"), "add name: TEXT; the login page shows it", "%s has no name", who)
		}
		for j, dom := range c.Domains {
			dom = strings.ToLower(dom)
			if prev, taken := domains[dom]; taken {
				d.add(p.item("domains", j), "a login_hint can lead to one source only", "%s: domain %q is also %s's", who, dom, prev)
			}
			domains[dom] = who
		}
		switch c.Kind() {
		case "":
			d.add(c.Line, "add oidc: {...} for an OpenID Connect provider or ldap: {...} for a directory", "%s has neither oidc nor ldap", who)
			continue
		case "oidc":
			if c.LDAP != nil {
				d.add(p.at("ldap"), "one source per entry: split it in two", "%s has both oidc and ldap", who)
			}
			d.validateOIDCConnector(who, c.OIDC, d.posOf(c.OIDC))
		case "ldap":
			d.validateLDAPConnector(who, c.LDAP, d.posOf(c.LDAP))
		}
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if strings.Contains(u.Username, ":") {
			d.add(d.posOf(u).at("username"), "':' is reserved: subjects of people from connectors are CONNECTOR:SUB", "username %q contains ':'", u.Username)
		}
		d.noDuplicates(fmt.Sprintf("user %q", u.Username), "groups", u.Groups, d.posOf(u))
	}
}

func (d *decoder) validateOIDCConnector(who string, o *OIDCConnector, p *pos) {
	if o.Issuer == "" {
		d.add(p.at("issuer"), "the upstream's issuer, e.g. https://login.example.com", "%s: oidc.issuer is required", who)
	} else if u, err := url.Parse(o.Issuer); err != nil || !u.IsAbs() || u.Host == "" {
		d.add(p.at("issuer"), "write an absolute URL", "%s: oidc.issuer %q is not an absolute URL", who, o.Issuer)
	} else if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		d.add(p.at("issuer"), "use https://; http is allowed only for loopback hosts, for tests", "%s: oidc.issuer %q must use https", who, o.Issuer)
	}
	if o.ClientID == "" {
		d.add(p.at("client_id"), "the client ID Gatehouse was registered with at the upstream", "%s: oidc.client_id is required", who)
	}
	if o.ClientSecret != "" && !d.fromEnv[p.at("client_secret")] {
		d.add(p.at("client_secret"), "write client_secret: ${"+envNameFor(strings.TrimPrefix(who, "connector "))+"_SECRET} and set it in the environment; the file may be shared or committed",
			"%s: oidc.client_secret must come from the environment", who)
	}
	if len(o.Scopes) > 0 {
		d.noDuplicates(who, "scopes", o.Scopes, p)
	}
}

func (d *decoder) validateLDAPConnector(who string, l *LDAPConnector, p *pos) {
	u, err := url.Parse(l.URL)
	switch {
	case l.URL == "":
		d.add(p.at("url"), "write url: ldaps://ldap.example.com", "%s: ldap.url is required", who)
	case err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps"):
		d.add(p.at("url"), "write ldaps://HOST[:636] or ldap://HOST[:389] with start_tls: true", "%s: ldap.url %q is not an ldap:// or ldaps:// URL", who, l.URL)
	case u.Scheme == "ldaps" && l.StartTLS:
		d.add(p.at("start_tls"), "ldaps:// is TLS already; remove start_tls", "%s: start_tls with ldaps://", who)
	case u.Scheme == "ldap" && !l.StartTLS && !l.InsecureNoTLS && !isLoopback(u.Hostname()):
		d.add(p.at("url"), "use ldaps://, or start_tls: true; insecure_no_tls: true sends passwords in clear", "%s: plain LDAP to %s would send passwords unencrypted", who, u.Hostname())
	}
	if l.UserBaseDN == "" {
		d.add(p.at("user_base_dn"), "where people are searched, e.g. ou=people,dc=example,dc=com", "%s: ldap.user_base_dn is required", who)
	}
	if (l.BindDN == "") != (l.BindPassword == "") {
		d.add(p.at("bind_dn"), "give both bind_dn and bind_password (the service account), or neither for an anonymous search", "%s: bind_dn and bind_password go together", who)
	}
	if l.BindPassword != "" && !d.fromEnv[p.at("bind_password")] {
		d.add(p.at("bind_password"), "write bind_password: ${LDAP_BIND_PASSWORD} and set it in the environment", "%s: ldap.bind_password must come from the environment", who)
	}
	if l.GroupBaseDN == "" && (l.GroupFilter != "" || l.GroupMemberAttribute != "" || l.GroupNameAttribute != "") {
		d.add(p.at("group_base_dn"), "group_filter, group_member_attribute and group_name_attribute need group_base_dn", "%s: group search without group_base_dn", who)
	}
	if l.Timeout < 0 || l.PoolSize < 0 {
		d.add(p.line, "timeout and pool_size must not be negative", "%s: negative timeout or pool_size", who)
	}
}

// validHostPattern is a host name, or *. and a domain.
var validHostPattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// validateMetadataClients checks the trust policy of metadata-document
// clients: hosts to fetch from, and an audience and scopes within what
// the configuration declares.
func (d *decoder) validateMetadataClients(cfg *Config, clientIDs, externalIDs map[string]int) {
	m := cfg.ClientMetadataDocuments
	if m == nil {
		return
	}
	p := d.posOf(m)
	who := "client_metadata_documents"
	if len(m.AllowedHosts) == 0 {
		d.add(p.at("allowed_hosts"), "list the hosts whose documents may be fetched, e.g. [app.example.com, \"*.example.org\"]", "%s: allowed_hosts is empty, so no client could use it", who)
	}
	d.noDuplicates(who, "allowed_hosts", m.AllowedHosts, p)
	for i, h := range m.AllowedHosts {
		if !validHostPattern.MatchString(h) || h == "*" {
			d.add(p.item("allowed_hosts", i), "a lower-case host name, or *.domain for its subdomains", "%s: allowed host %q is not a host name or *.domain", who, h)
		}
	}
	d.noDuplicates(who, "audience", m.Audience, p)
	for i, a := range m.Audience {
		if clientIDs[a] == 0 && externalIDs[a] == 0 {
			d.add(p.item("audience", i), "list client ids, resource URIs or external audiences", "%s: audience %q is not a client or an external audience", who, a)
		}
	}
	d.noDuplicates(who, "scopes", m.Scopes, p)
	for i, sc := range m.Scopes {
		if sc == "" || badScopeChar(sc) != "" {
			d.add(p.item("scopes", i), "RFC 6749 §3.3 scope tokens", "%s: scope %q is not a scope token", who, sc)
		}
	}
	d.validateTags(who, m.Tags, p)
}

// validateDynamicRegistration checks the registration policy.
func (d *decoder) validateDynamicRegistration(cfg *Config, clientIDs, externalIDs map[string]int) {
	m := cfg.DynamicRegistration
	if m == nil {
		return
	}
	p := d.posOf(m)
	who := "dynamic_registration"
	d.noDuplicates(who, "audience", m.Audience, p)
	for i, a := range m.Audience {
		if clientIDs[a] == 0 && externalIDs[a] == 0 {
			d.add(p.item("audience", i), "list client ids, resource URIs or external audiences", "%s: audience %q is not a client or an external audience", who, a)
		}
	}
	d.noDuplicates(who, "scopes", m.Scopes, p)
	for i, sc := range m.Scopes {
		if sc == "" || badScopeChar(sc) != "" {
			d.add(p.item("scopes", i), "RFC 6749 §3.3 scope tokens", "%s: scope %q is not a scope token", who, sc)
		}
	}
	d.validateTags(who, m.Tags, p)
	if m.ExpireAfter < 0 {
		d.add(p.at("expire_after"), "a duration such as 720h", "%s: expire_after must not be negative", who)
	}
}
