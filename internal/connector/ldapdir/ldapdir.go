// Package ldapdir checks people's passwords against an LDAP directory and
// reads their groups, with github.com/go-ldap/ldap/v3.
//
// A sign-in is a search and a bind: a service account (BindDN) searches
// for the one entry whose username attribute equals the username, escaped
// into the filter so no username can change the filter's meaning; then a
// connection of its own binds as that entry with the password. Groups come
// from a group search (groups whose member attribute holds the entry's DN)
// or from an attribute of the entry (memberOf). Service connections are
// pooled; every operation is bounded by Options.Timeout and by the
// caller's context, so a directory that accepts connections and never
// answers fails the sign-in instead of hanging it.
package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/connector"
)

// Options configure a Directory. Attribute names left empty take the
// defaults given.
type Options struct {
	// URL is ldaps://host[:636] or ldap://host[:389].
	URL string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// InsecureNoTLS allows plain ldap:// without StartTLS to a host that
	// is not a loopback address (passwords then cross the network in
	// clear). Plain LDAP to a loopback address needs no flag.
	InsecureNoTLS bool
	// RootCAs verify the directory's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// BindDN and BindPassword are the service account that searches;
	// empty: an anonymous search.
	BindDN, BindPassword string
	// UserBaseDN is where people are searched (the whole subtree).
	UserBaseDN string
	// UserFilter is ANDed into the search, e.g. (objectClass=inetOrgPerson).
	UserFilter        string
	UsernameAttribute string // default uid
	SubjectAttribute  string // default: UsernameAttribute
	EmailAttribute    string // default mail
	NameAttribute     string // default cn
	// Member-style groups: entries under GroupBaseDN matching GroupFilter
	// whose GroupMemberAttribute (default member) holds the person's DN;
	// a group's name is its GroupNameAttribute (default cn).
	GroupBaseDN, GroupFilter, GroupMemberAttribute, GroupNameAttribute string
	// UserGroupsAttribute, memberOf style: the person's attribute that
	// lists group DNs; a group's name is its DN's first value.
	UserGroupsAttribute string
	// Timeout bounds each network operation (default 5s).
	Timeout time.Duration
	// PoolSize is how many idle service connections are kept (default 4).
	PoolSize int
}

// maxUsername bounds what is searched for; longer names are refused.
const maxUsername = 256

// Directory is one LDAP directory. It is safe for concurrent use.
type Directory struct {
	o    Options
	tls  *tls.Config
	idle chan *ldap.Conn

	mu     sync.Mutex
	closed bool
}

// New checks o; it does not connect.
func New(o Options) (*Directory, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
		return nil, errors.New("ldapdir: the URL must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
	}
	switch {
	case u.Scheme == "ldaps" && o.StartTLS:
		return nil, errors.New("ldapdir: StartTLS on an ldaps:// URL")
	case u.Scheme == "ldap" && !o.StartTLS && !o.InsecureNoTLS && !loopback(u.Hostname()):
		return nil, fmt.Errorf("ldapdir: plain LDAP to %s would send passwords unencrypted; use ldaps://, StartTLS, or the insecure flag", u.Hostname())
	case o.UserBaseDN == "":
		return nil, errors.New("ldapdir: the user base DN is required")
	}
	if o.UserFilter != "" {
		if !strings.HasPrefix(o.UserFilter, "(") {
			o.UserFilter = "(" + o.UserFilter + ")"
		}
		if _, err := ldap.CompileFilter(o.UserFilter); err != nil {
			return nil, fmt.Errorf("ldapdir: the user filter: %v", err)
		}
	}
	if o.GroupFilter != "" {
		if !strings.HasPrefix(o.GroupFilter, "(") {
			o.GroupFilter = "(" + o.GroupFilter + ")"
		}
		if _, err := ldap.CompileFilter(o.GroupFilter); err != nil {
			return nil, fmt.Errorf("ldapdir: the group filter: %v", err)
		}
	}
	defaults := []struct {
		f   *string
		def string
	}{{&o.UsernameAttribute, "uid"}, {&o.EmailAttribute, "mail"}, {&o.NameAttribute, "cn"},
		{&o.GroupMemberAttribute, "member"}, {&o.GroupNameAttribute, "cn"}}
	for _, d := range defaults {
		if *d.f == "" {
			*d.f = d.def
		}
	}
	if o.SubjectAttribute == "" {
		o.SubjectAttribute = o.UsernameAttribute
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 4
	}
	d := &Directory{o: o, idle: make(chan *ldap.Conn, o.PoolSize),
		tls: &tls.Config{RootCAs: o.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	return d, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UserFilter is the search filter for username: the username attribute
// equal to the escaped username, ANDed with the configured filter. Every
// filter metacharacter of the username ( * ( ) \ NUL ) is escaped, so it
// can only ever be a value.
func (d *Directory) UserFilter(username string) string {
	f := "(" + d.o.UsernameAttribute + "=" + ldap.EscapeFilter(username) + ")"
	if d.o.UserFilter != "" {
		f = "(&" + f + d.o.UserFilter + ")"
	}
	return f
}

// validUsername refuses what no directory entry can be named, before the
// network is touched.
func validUsername(s string) bool {
	return s != "" && len(s) <= maxUsername && strings.IndexFunc(s, unicode.IsControl) < 0
}

// Login checks username and password. A wrong password, an unknown
// username and an ambiguous one are all connector.ErrInvalidCredentials;
// an empty password never reaches a bind (many servers take a bind with
// an empty password as an anonymous one, and succeed).
func (d *Directory) Login(ctx context.Context, username, password string) (connector.Identity, error) {
	if password == "" || !validUsername(username) || len(password) > 1024 {
		return connector.Identity{}, connector.ErrInvalidCredentials
	}
	var id connector.Identity
	err := d.withService(ctx, func(c *ldap.Conn) error {
		e, err := d.find(c, username)
		if err != nil {
			if errors.Is(err, connector.ErrNotFound) {
				// Bind as nobody anyway, so an unknown username costs the
				// directory round trips a wrong password does: the time
				// must not tell who has an account.
				_ = d.checkPassword(ctx, "uid=gatehouse-nobody,"+d.o.UserBaseDN, password)
				return connector.ErrInvalidCredentials
			}
			return err
		}
		if err := d.checkPassword(ctx, e.DN, password); err != nil {
			return err
		}
		id, err = d.identity(c, e)
		return err
	})
	return id, err
}

// Lookup returns the person as the directory has them now, without a
// password (a refresh re-reads their groups); connector.ErrNotFound when
// they are gone.
func (d *Directory) Lookup(ctx context.Context, username string) (connector.Identity, error) {
	if !validUsername(username) {
		return connector.Identity{}, connector.ErrNotFound
	}
	var id connector.Identity
	err := d.withService(ctx, func(c *ldap.Conn) error {
		e, err := d.find(c, username)
		if err != nil {
			return err
		}
		id, err = d.identity(c, e)
		return err
	})
	return id, err
}

// find searches for the one entry of username.
func (d *Directory) find(c *ldap.Conn, username string) (*ldap.Entry, error) {
	attrs := []string{d.o.UsernameAttribute, d.o.SubjectAttribute, d.o.EmailAttribute, d.o.NameAttribute}
	if d.o.UserGroupsAttribute != "" {
		attrs = append(attrs, d.o.UserGroupsAttribute)
	}
	// A size limit of 2 is enough to tell one entry from several.
	res, err := c.Search(ldap.NewSearchRequest(d.o.UserBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(d.o.Timeout/time.Second)+1, false, d.UserFilter(username), attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, connector.ErrNotFound // ambiguous: nobody
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, connector.ErrNotFound
	case err != nil:
		return nil, unavailable("searching for the person", err)
	case len(res.Entries) != 1:
		return nil, connector.ErrNotFound
	}
	return res.Entries[0], nil
}

// checkPassword binds as dn on a connection of its own, never a pooled
// one, which must stay bound as the service account.
func (d *Directory) checkPassword(ctx context.Context, dn, password string) error {
	c, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	switch err := c.Bind(dn, password); {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return connector.ErrInvalidCredentials
	default:
		return unavailable("binding as the person", err)
	}
}

// identity maps the entry, with its groups.
func (d *Directory) identity(c *ldap.Conn, e *ldap.Entry) (connector.Identity, error) {
	id := connector.Identity{Subject: e.GetAttributeValue(d.o.SubjectAttribute), Username: e.GetAttributeValue(d.o.UsernameAttribute),
		Email: e.GetAttributeValue(d.o.EmailAttribute), Name: e.GetAttributeValue(d.o.NameAttribute)}
	if id.Subject == "" {
		return connector.Identity{}, unavailable("reading the person", fmt.Errorf("the entry has no %s", d.o.SubjectAttribute))
	}
	// A directory's addresses are its own: it vouches for them.
	id.EmailVerified = id.Email != ""
	if d.o.UserGroupsAttribute != "" {
		for _, dn := range e.GetAttributeValues(d.o.UserGroupsAttribute) {
			if name := firstValue(dn); name != "" {
				id.Groups = append(id.Groups, name)
			}
		}
	}
	if d.o.GroupBaseDN != "" {
		f := "(" + d.o.GroupMemberAttribute + "=" + ldap.EscapeFilter(e.DN) + ")"
		if d.o.GroupFilter != "" {
			f = "(&" + f + d.o.GroupFilter + ")"
		}
		res, err := c.Search(ldap.NewSearchRequest(d.o.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			1000, int(d.o.Timeout/time.Second)+1, false, f, []string{d.o.GroupNameAttribute}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return connector.Identity{}, unavailable("searching for groups", err)
		}
		if res != nil {
			for _, g := range res.Entries {
				if name := g.GetAttributeValue(d.o.GroupNameAttribute); name != "" {
					id.Groups = append(id.Groups, name)
				}
			}
		}
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	return id, nil
}

// firstValue is the value of a DN's first attribute (cn=hr,ou=groups → hr).
func firstValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}

// withService runs f on a service-bound connection from the pool, and
// gives it back unless it broke. The caller's context ends the operation
// by closing the connection.
func (d *Directory) withService(ctx context.Context, f func(*ldap.Conn) error) error {
	c, err := d.service(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = f(c)
	if !stop() || c.IsClosing() || errors.Is(err, connector.ErrUnavailable) {
		c.Close()
		if ctx.Err() != nil && (err == nil || errors.Is(err, connector.ErrUnavailable)) {
			return unavailable("waiting for the directory", ctx.Err())
		}
		return err
	}
	d.put(c)
	return err
}

// service takes an idle service connection or makes one.
func (d *Directory) service(ctx context.Context) (*ldap.Conn, error) {
	for {
		select {
		case c := <-d.idle:
			if c.IsClosing() {
				continue
			}
			return c, nil
		default:
		}
		break
	}
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if d.o.BindDN == "" {
		return c, nil
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Bind(d.o.BindDN, d.o.BindPassword); err != nil {
		c.Close()
		return nil, unavailable("binding as the service account", err)
	}
	return c, nil
}

func (d *Directory) put(c *ldap.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return
	}
	select {
	case d.idle <- c:
	default:
		c.Close()
	}
}

// dial connects (and upgrades with StartTLS), bounded by Timeout and ctx.
func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: d.o.Timeout}
	type result struct {
		c   *ldap.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ldap.DialURL(d.o.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(d.tls))
		if err == nil {
			c.SetTimeout(d.o.Timeout)
			if d.o.StartTLS {
				if err = c.StartTLS(d.tls); err != nil {
					c.Close()
				}
			}
		}
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, unavailable("connecting", r.err)
		}
		return r.c, nil
	case <-dctx.Done():
		// The goroutine finishes on its own (each step is bounded); its
		// connection, if it still comes, is closed.
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, unavailable("connecting", dctx.Err())
	}
}

// Close drops the idle connections; later calls dial anew.
func (d *Directory) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	for {
		select {
		case c := <-d.idle:
			c.Close()
		default:
			return nil
		}
	}
}

// unavailable wraps err as connector.ErrUnavailable, saying what failed.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", connector.ErrUnavailable, what, err)
}
