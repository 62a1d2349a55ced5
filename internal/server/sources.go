package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/connector/ldapdir"
	"github.com/gatehouse/gatehouse/internal/connector/upstream"
)

// Identity sources (connectors) as the server uses them: a directory
// checks a password the login page posts; an upstream provider is where
// the browser is sent. Both are built per configuration version, so a
// reload changes them like any other setting.

// passwordSource checks a username and password against a directory.
type passwordSource interface {
	Login(ctx context.Context, username, password string) (connector.Identity, error)
	Lookup(ctx context.Context, username string) (connector.Identity, error)
	Close() error
}

// redirectSource is an upstream OpenID Connect provider.
type redirectSource interface {
	AuthURL(ctx context.Context, state, nonce, verifier string, extra url.Values) (string, error)
	Callback(q url.Values, wantState string) (string, error)
	Exchange(ctx context.Context, code, verifier, nonce string) (connector.Identity, error)
}

// source is one configured identity source.
type source struct {
	cfg *config.Connector
	// Exactly one is set.
	directory passwordSource
	upstream  redirectSource
}

// sources are the configured identity sources, in configuration order.
type sources struct {
	list []*source
	byID map[string]*source
}

// upstreamCallbackPath is where an upstream provider sends the browser
// back; it is registered there as ISSUER/upstream/ID/callback.
func upstreamCallbackPath(id string) string { return "/upstream/" + id + "/callback" }

// buildSources makes the identity sources of cfg. Nothing is contacted:
// a directory connects on first use and an upstream is discovered then,
// so Gatehouse starts while either is down.
func buildSources(cfg *config.Config, issuer string) (*sources, error) {
	out := &sources{byID: map[string]*source{}}
	for i := range cfg.Connectors {
		c := &cfg.Connectors[i]
		src := &source{cfg: c}
		var err error
		switch {
		case c.LDAP != nil:
			src.directory, err = newDirectory(c.LDAP)
		case c.OIDC != nil:
			src.upstream, err = newUpstream(c.OIDC, issuer+upstreamCallbackPath(c.ID))
		}
		if err != nil {
			out.close()
			return nil, fmt.Errorf("connector %s: %w", c.ID, err)
		}
		out.list = append(out.list, src)
		out.byID[c.ID] = src
	}
	return out, nil
}

func newDirectory(l *config.LDAPConnector) (passwordSource, error) {
	o := ldapdir.Options{URL: l.URL, StartTLS: l.StartTLS, InsecureNoTLS: l.InsecureNoTLS,
		BindDN: l.BindDN, BindPassword: l.BindPassword, UserBaseDN: l.UserBaseDN, UserFilter: l.UserFilter,
		UsernameAttribute: l.UsernameAttribute, SubjectAttribute: l.SubjectAttribute,
		EmailAttribute: l.EmailAttribute, NameAttribute: l.NameAttribute,
		GroupBaseDN: l.GroupBaseDN, GroupFilter: l.GroupFilter, GroupMemberAttribute: l.GroupMemberAttribute,
		GroupNameAttribute: l.GroupNameAttribute, UserGroupsAttribute: l.UserGroupsAttribute,
		Timeout: l.Timeout, PoolSize: l.PoolSize}
	if l.CAFile != "" {
		pem, err := os.ReadFile(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading ca_file: %w", err)
		}
		o.RootCAs = x509.NewCertPool()
		if !o.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("ca_file " + l.CAFile + " holds no PEM certificate")
		}
	}
	return ldapdir.New(o)
}

func newUpstream(o *config.OIDCConnector, redirect string) (redirectSource, error) {
	opts := upstream.Options{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		RedirectURL: redirect, Scopes: o.Scopes, UserInfo: o.UserInfo}
	if m := o.Claims; m != nil {
		opts.Claims = upstream.ClaimNames{Subject: m.Subject, Username: m.Username, Email: m.Email,
			EmailVerified: m.EmailVerified, Name: m.Name, Groups: m.Groups}
	}
	return upstream.New(opts)
}

// close releases the directories' connections.
func (ss *sources) close() {
	for _, s := range ss.list {
		if s.directory != nil {
			_ = s.directory.Close()
		}
	}
}

// passwordSources are the sources of the login page's password form: the
// local users ("" first) and every directory.
func (ss *sources) passwordSources() []*source {
	var out []*source
	for _, s := range ss.list {
		if s.directory != nil {
			out = append(out, s)
		}
	}
	return out
}

// hinted returns the source a request asks for, by idp_hint or by the
// domain of an email-shaped login_hint, or nil (any source).
func (ss *sources) hinted(idpHint, loginHint string) (*source, bool) {
	if idpHint == "local" {
		return nil, true
	}
	if s := ss.byID[idpHint]; s != nil {
		return s, true
	}
	if _, domain, ok := strings.Cut(loginHint, "@"); ok && domain != "" {
		for _, s := range ss.list {
			for _, d := range s.cfg.Domains {
				if strings.EqualFold(d, domain) {
					return s, true
				}
			}
		}
	}
	return nil, false
}
