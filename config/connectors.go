package config

import "time"

// Connector is one identity source: an upstream OpenID Connect provider
// (OIDC) or an LDAP directory (LDAP), exactly one of the two.
//
//	connectors:
//	  - id: corp
//	    name: Example Corp SSO
//	    oidc: {issuer: https://login.example.com, client_id: gatehouse, client_secret: ${CORP_SECRET}}
//	  - id: staff
//	    name: Staff directory
//	    ldap: {url: ldaps://ldap.example.com, bind_dn: ..., bind_password: ${LDAP_PASSWORD}, user_base_dn: ...}
type Connector struct {
	// ID names the source in subjects ("corp:SUB"), in the idp claim and
	// in idp_hint. Lower-case letters, digits, '-' and '_'.
	ID string `yaml:"id"`
	// Name is what the login page shows.
	Name string `yaml:"name"`
	// Domains send a login_hint of the form name@domain straight to this
	// source.
	Domains []string       `yaml:"domains"`
	OIDC    *OIDCConnector `yaml:"oidc"`
	LDAP    *LDAPConnector `yaml:"ldap"`

	// Line is the line of the connector's entry (not a YAML key).
	Line int `yaml:"-"`
}

// Kind returns "oidc", "ldap" or "".
func (c *Connector) Kind() string {
	switch {
	case c.OIDC != nil:
		return "oidc"
	case c.LDAP != nil:
		return "ldap"
	}
	return ""
}

// OIDCConnector is an upstream OpenID Connect provider. Gatehouse is a
// client there: it registers ISSUER/upstream/ID/callback as redirect URI.
type OIDCConnector struct {
	// Issuer is the upstream's issuer identifier (https; http only on a
	// loopback address, for tests).
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are Gatehouse's client at the upstream.
	// The secret must come from the environment (${NAME}); without one
	// Gatehouse is a public client there (PKCE only).
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes requested upstream (default openid profile email).
	Scopes []string `yaml:"scopes"`
	// Claims names the upstream's claims to read; unset names keep their
	// defaults.
	Claims *ClaimMapping `yaml:"claims"`
	// UserInfo also reads the upstream's UserInfo endpoint.
	UserInfo bool `yaml:"userinfo"`
}

// ClaimMapping names the upstream claims each piece of a person comes
// from.
type ClaimMapping struct {
	Subject       string `yaml:"subject"`        // default sub
	Username      string `yaml:"username"`       // default preferred_username
	Email         string `yaml:"email"`          // default email
	EmailVerified string `yaml:"email_verified"` // default email_verified
	Name          string `yaml:"name"`           // default name
	Groups        string `yaml:"groups"`         // default groups
}

// LDAPConnector is an LDAP directory checked with a username and password
// on the login page.
type LDAPConnector struct {
	// URL is ldaps://host[:port] or ldap://host[:port]; plain ldap:// needs
	// start_tls, a loopback host, or insecure_no_tls.
	URL           string `yaml:"url"`
	StartTLS      bool   `yaml:"start_tls"`
	InsecureNoTLS bool   `yaml:"insecure_no_tls"`
	// CAFile is a PEM bundle of the CAs to trust (default: the system's).
	CAFile string `yaml:"ca_file"`
	// BindDN and BindPassword are the service account that searches; the
	// password must come from the environment (${NAME}).
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	// UserBaseDN is where people are searched; UserFilter is ANDed in.
	UserBaseDN        string `yaml:"user_base_dn"`
	UserFilter        string `yaml:"user_filter"`
	UsernameAttribute string `yaml:"username_attribute"` // default uid
	SubjectAttribute  string `yaml:"subject_attribute"`  // default: username_attribute
	EmailAttribute    string `yaml:"email_attribute"`    // default mail
	NameAttribute     string `yaml:"name_attribute"`     // default cn
	// Groups, member style: groups under GroupBaseDN whose
	// GroupMemberAttribute (default member) holds the person's DN.
	GroupBaseDN          string `yaml:"group_base_dn"`
	GroupFilter          string `yaml:"group_filter"`
	GroupMemberAttribute string `yaml:"group_member_attribute"`
	GroupNameAttribute   string `yaml:"group_name_attribute"`
	// UserGroupsAttribute, memberOf style: the person's attribute listing
	// group DNs (e.g. memberOf).
	UserGroupsAttribute string `yaml:"user_groups_attribute"`
	// Timeout bounds each directory operation (default 5s).
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize is how many service connections are kept (default 4).
	PoolSize int `yaml:"pool_size"`
}

// Connector returns the connector with this ID, or nil.
func (c *Config) Connector(id string) *Connector {
	for i := range c.Connectors {
		if c.Connectors[i].ID == id {
			return &c.Connectors[i]
		}
	}
	return nil
}
