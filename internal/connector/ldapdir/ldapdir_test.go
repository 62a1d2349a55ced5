package ldapdir_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/connector"
	"github.com/gatehouse/gatehouse/internal/connector/ldapdir"
	"github.com/gatehouse/gatehouse/internal/testkit/slapdtest"
)

func directory(t *testing.T, s *slapdtest.Server, change func(*ldapdir.Options)) *ldapdir.Directory {
	t.Helper()
	o := ldapdir.Options{URL: s.URL, BindDN: slapdtest.ServiceDN, BindPassword: slapdtest.ServicePassword,
		UserBaseDN: slapdtest.PeopleDN, UserFilter: "(objectClass=inetOrgPerson)",
		GroupBaseDN: slapdtest.GroupsDN, GroupFilter: "(objectClass=groupOfNames)", Timeout: 2 * time.Second}
	if change != nil {
		change(&o)
	}
	d, err := ldapdir.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestLogin (issue 12): against a real slapd, good and bad passwords,
// unknown users, an empty password and injection attempts in the username.
func TestLogin(t *testing.T) {
	s := slapdtest.Start(t)
	d := directory(t, s, nil)
	ctx := context.Background()
	id, err := d.Login(ctx, "bob", slapdtest.People["bob"])
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "bob" || id.Username != "bob" || id.Email != "bob@directory.example" || !id.EmailVerified ||
		id.Name != "Bob Directory" || !slices.Equal(id.Groups, []string{"hr"}) {
		t.Errorf("bob: %+v", id)
	}
	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "bob", "not-his-password"},
		{"another person's password", "bob", slapdtest.People["carol"]},
		{"unknown user", "mallory", "whatever-1"},
		{"empty password", "bob", ""},
		{"wildcard", "*", slapdtest.People["bob"]},
		{"wildcard prefix", "b*", slapdtest.People["bob"]},
		{"closing paren", "bob)(uid=*", slapdtest.People["bob"]},
		{"or injection", "*)(|(uid=*", slapdtest.People["bob"]},
		{"nul byte", "bob\x00", slapdtest.People["bob"]},
		{"escaped nul", `bob\00`, slapdtest.People["bob"]},
		{"paren pair", ")(", slapdtest.People["bob"]},
		{"too long", strings.Repeat("b", 300), slapdtest.People["bob"]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := d.Login(ctx, tc.user, tc.password)
			if !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Errorf("got %+v, %v; want ErrInvalidCredentials", id, err)
			}
		})
	}
}

// TestGroupsBothWays: member-style group search and the memberOf
// attribute give the same groups.
func TestGroupsBothWays(t *testing.T) {
	s := slapdtest.Start(t)
	memberOf := directory(t, s, func(o *ldapdir.Options) { o.GroupBaseDN, o.GroupFilter, o.UserGroupsAttribute = "", "", "memberOf" })
	member := directory(t, s, nil)
	for _, d := range []*ldapdir.Directory{member, memberOf} {
		carol, err := d.Login(context.Background(), "carol", slapdtest.People["carol"])
		alice, err2 := d.Lookup(context.Background(), "alice")
		if err != nil || err2 != nil || !slices.Equal(carol.Groups, []string{"hr", "sales"}) || len(alice.Groups) != 0 {
			t.Errorf("carol %v (%v), alice %v (%v)", carol.Groups, err, alice.Groups, err2)
		}
	}
	// Lookup sees today's groups, and a removed person is not found.
	if err := s.RemoveFromGroup("carol", "hr"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*ldapdir.Directory{member, memberOf} {
		if carol, err := d.Lookup(context.Background(), "carol"); err != nil || !slices.Equal(carol.Groups, []string{"sales"}) {
			t.Errorf("after removal from sales: %v %v", carol.Groups, err)
		}
	}
	if _, err := member.Lookup(context.Background(), "mallory"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if err := s.Admin(func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest("uid=alice,"+slapdtest.PeopleDN, nil)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := member.Lookup(context.Background(), "alice"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
}

// TestTLS: LDAPS and StartTLS work with the directory's CA and fail, as
// unavailable, with another; plain LDAP off loopback needs the flag.
func TestTLS(t *testing.T) {
	s := slapdtest.Start(t)
	ldaps := directory(t, s, func(o *ldapdir.Options) { o.URL, o.RootCAs = s.TLSURL, s.CAPool() })
	startTLS := directory(t, s, func(o *ldapdir.Options) { o.StartTLS, o.RootCAs = true, s.CAPool() })
	for name, d := range map[string]*ldapdir.Directory{"ldaps": ldaps, "starttls": startTLS} {
		if _, err := d.Login(context.Background(), "bob", slapdtest.People["bob"]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	untrusted := directory(t, s, func(o *ldapdir.Options) { o.URL = s.TLSURL })
	if _, err := untrusted.Login(context.Background(), "bob", slapdtest.People["bob"]); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("untrusted CA: %v", err)
	}
	if _, err := ldapdir.New(ldapdir.Options{URL: "ldap://ldap.example.com", UserBaseDN: "dc=x"}); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("plain LDAP off loopback: %v", err)
	}
	if _, err := ldapdir.New(ldapdir.Options{URL: "ldap://ldap.example.com", UserBaseDN: "dc=x", InsecureNoTLS: true}); err != nil {
		t.Errorf("with the flag: %v", err)
	}
	if _, err := ldapdir.New(ldapdir.Options{URL: "ldaps://h", StartTLS: true, UserBaseDN: "dc=x"}); err == nil {
		t.Error("StartTLS on ldaps accepted")
	}
}

// TestDirectoryDown: a closed port and a server that never answers both
// fail as unavailable, within about the timeout.
func TestDirectoryDown(t *testing.T) {
	s := slapdtest.Start(t)
	d := directory(t, s, func(o *ldapdir.Options) { o.Timeout = 300 * time.Millisecond })
	if _, err := d.Login(context.Background(), "bob", slapdtest.People["bob"]); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	started := time.Now()
	if _, err := d.Login(context.Background(), "bob", slapdtest.People["bob"]); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("stopped directory: %v", err)
	}
	// A listener that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	for _, startTLS := range []bool{false, true} {
		hung := directory(t, s, func(o *ldapdir.Options) {
			o.URL, o.StartTLS, o.Timeout = "ldap://"+l.Addr().String(), startTLS, 300*time.Millisecond
		})
		if _, err := hung.Login(context.Background(), "bob", "pw-1"); !errors.Is(err, connector.ErrUnavailable) {
			t.Errorf("hung directory (starttls %v): %v", startTLS, err)
		}
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("the failures took %v", took)
	}
	// The caller's context ends it too.
	hung := directory(t, s, func(o *ldapdir.Options) { o.URL, o.Timeout = "ldap://"+l.Addr().String(), time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := hung.Login(ctx, "bob", "pw-1"); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestConcurrentLogins: the pool under concurrent sign-ins of several
// people, right and wrong passwords mixed (run with -race in CI).
func TestConcurrentLogins(t *testing.T) {
	s := slapdtest.Start(t)
	d := directory(t, s, func(o *ldapdir.Options) { o.PoolSize = 2 })
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			user := []string{"alice", "bob", "carol"}[i%3]
			pw := slapdtest.People[user]
			if i%4 == 0 {
				pw = "wrong-password"
			}
			id, err := d.Login(context.Background(), user, pw)
			switch {
			case i%4 == 0 && !errors.Is(err, connector.ErrInvalidCredentials):
				t.Errorf("%s with a wrong password: %v", user, err)
			case i%4 != 0 && (err != nil || id.Username != user):
				t.Errorf("%s: %+v %v", user, id, err)
			}
		})
	}
	wg.Wait()
}

// FuzzUserFilter: whatever the username, the filter compiles and is the
// one equality (ANDed with the configured filter): the username adds no
// filter component.
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{"bob", "*", ")(", "*)(|(uid=*", "bob\x00", `bob\00`, "a(b)c*d\\e", "ü"} {
		f.Add(s)
	}
	d, err := ldapdir.New(ldapdir.Options{URL: "ldap://127.0.0.1", UserBaseDN: "dc=x", UserFilter: "(objectClass=person)"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, username string) {
		filter := d.UserFilter(username)
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("%q: %q does not compile: %v", username, filter, err)
		}
		// (&(uid=V)(objectClass=person)): an AND of exactly two.
		if len(p.Children) != 2 {
			t.Fatalf("%q: %q has %d components", username, filter, len(p.Children))
		}
		back, err := ldap.DecompileFilter(p.Children[0])
		if err != nil || !strings.HasPrefix(back, "(uid=") {
			t.Fatalf("%q: first component %q (%v)", username, back, err)
		}
		value := filter[len("(&(uid=") : len(filter)-len(")(objectClass=person))")]
		if strings.ContainsAny(value, "()*\x00") {
			t.Fatalf("%q: unescaped metacharacter in %q", username, filter)
		}
	})
}
