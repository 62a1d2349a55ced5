package slapdtest_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/internal/testkit/slapdtest"
)

func TestStart(t *testing.T) {
	s := slapdtest.Start(t)
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("uid=bob,"+slapdtest.PeopleDN, slapdtest.People["bob"]); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ldap.NewSearchRequest(slapdtest.PeopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", []string{"memberOf", "mail"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatal(err)
	}
	t.Log(res.Entries[0].GetAttributeValues("memberOf"), res.Entries[0].GetAttributeValue("mail"))
}
