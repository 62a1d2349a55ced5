// Package slapdtest runs a real OpenLDAP server (Debian's slapd) for
// tests, on loopback ports, with a fixture directory: the people and
// groups of the shop. It speaks LDAP, LDAPS and StartTLS with a
// certificate from a CA made for the test, and maintains memberOf (the
// memberof overlay), so both ways of finding a person's groups can be
// tested against the real thing.
package slapdtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

// The fixture directory.
const (
	BaseDN    = "dc=example,dc=com"
	PeopleDN  = "ou=people," + BaseDN
	GroupsDN  = "ou=groups," + BaseDN
	ServiceDN = "cn=gatehouse,ou=services," + BaseDN
	// ServicePassword is the service account's password.
	ServicePassword = "service-password-1"
	adminDN         = "cn=admin," + BaseDN
	adminPassword   = "admin-password-1"
)

// People of the fixture: username → password. bob is in hr, carol in hr
// and sales, alice in no group.
var People = map[string]string{
	"alice": "alice-ldap-password",
	"bob":   "bob-ldap-password",
	"carol": "carol-ldap-password",
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS available); TLSURL is the
	// ldaps:// listener.
	URL, TLSURL string
	// CA is the PEM of the CA that signed the server's certificate.
	CA  []byte
	cmd *exec.Cmd
}

const slapdPath = "/usr/sbin/slapd"

// Start runs slapd with the fixture until the test ends. Without slapd
// the test is skipped (failed under CI=true: .ci/deps.sh installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(slapdPath); err != nil {
		testkit.Missing(t, "slapd is not installed (apt-get install slapd)")
	}
	dir := t.TempDir()
	ca, err := writeCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(slapdConf, "DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	port, tlsPort := freePort(t), freePort(t)
	s := &Server{URL: fmt.Sprintf("ldap://127.0.0.1:%d", port), TLSURL: fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort), CA: ca}
	var out bytes.Buffer
	// -d 0 keeps slapd in the foreground, so it dies with the test.
	s.cmd = exec.Command(slapdPath, "-d", "0", "-f", conf, "-h", s.URL+"/ "+s.TLSURL+"/")
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	if err := s.waitReady(10 * time.Second); err != nil {
		t.Fatalf("slapd did not start: %v\n%s", err, out.String())
	}
	if err := s.load(); err != nil {
		t.Fatalf("loading the fixture: %v", err)
	}
	return s
}

// Stop kills the server (a directory that went down).
func (s *Server) Stop() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

// CAPool is the CA as a pool.
func (s *Server) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CA)
	return p
}

// Admin runs f on a connection bound as the directory's administrator,
// for tests that change the directory.
func (s *Server) Admin(f func(*ldap.Conn) error) error {
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bind(adminDN, adminPassword); err != nil {
		return err
	}
	return f(c)
}

// RemoveFromGroup takes a person out of a group.
func (s *Server) RemoveFromGroup(username, group string) error {
	return s.Admin(func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest("cn="+group+","+GroupsDN, nil)
		m.Delete("member", []string{"uid=" + username + "," + PeopleDN})
		return c.Modify(m)
	})
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = c.Bind(adminDN, adminPassword)
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // polling a subprocess; synctest cannot fake its clock
	}
}

// load adds the fixture over LDAP, so the memberof overlay sees the
// groups and sets memberOf (slapadd would bypass it).
func (s *Server) load() error {
	return s.Admin(func(c *ldap.Conn) error {
		add := func(dn string, attrs map[string][]string) error {
			r := ldap.NewAddRequest(dn, nil)
			for k, v := range attrs {
				r.Attribute(k, v)
			}
			return c.Add(r)
		}
		entries := []struct {
			dn    string
			attrs map[string][]string
		}{
			{BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}},
			{PeopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}},
			{GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}},
			{"ou=services," + BaseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"services"}}},
			{ServiceDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"gatehouse"}, "userPassword": {ServicePassword}}},
		}
		for _, u := range []string{"alice", "bob", "carol"} {
			name := strings.ToUpper(u[:1]) + u[1:] + " Directory"
			entries = append(entries, struct {
				dn    string
				attrs map[string][]string
			}{"uid=" + u + "," + PeopleDN, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {name},
				"sn": {"Directory"}, "mail": {u + "@directory.example"}, "userPassword": {People[u]}}})
		}
		for _, g := range []struct {
			name    string
			members []string
		}{{"hr", []string{"bob", "carol"}}, {"sales", []string{"carol"}}} {
			var dns []string
			for _, m := range g.members {
				dns = append(dns, "uid="+m+","+PeopleDN)
			}
			entries = append(entries, struct {
				dn    string
				attrs map[string][]string
			}{"cn=" + g.name + "," + GroupsDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {g.name}, "member": dns}})
		}
		for _, e := range entries {
			if err := add(e.dn, e.attrs); err != nil {
				return fmt.Errorf("%s: %w", e.dn, err)
			}
		}
		return nil
	})
}

const slapdConf = `
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile DIR/slapd.pid
TLSCACertificateFile DIR/ca.pem
TLSCertificateFile DIR/cert.pem
TLSCertificateKeyFile DIR/key.pem
database mdb
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw admin-password-1
directory DIR/data
maxsize 10485760
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`

// writeCerts makes a CA and a certificate for 127.0.0.1 signed by it.
func writeCerts(dir string) (caPEM []byte, err error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slapdtest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.pem":   caPEM,
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
