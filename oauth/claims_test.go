package oauth

import (
	"slices"
	"testing"
)

func TestParseClaimsRequest(t *testing.T) {
	ok := []struct {
		name, in      string
		userinfo, idt []string
		essential     string // an id_token claim that must be essential
	}{
		{"both", `{"userinfo":{"email":null,"name":{"essential":true}},"id_token":{"email":{"essential":true}}}`,
			[]string{"email", "name"}, []string{"email"}, "email"},
		{"id token only", `{"id_token":{"acr":{"values":["a","b"]}}}`, nil, []string{"acr"}, ""},
		{"unknown members ignored", `{"other":1,"userinfo":{}}`, []string{}, nil, ""},
		{"null sets", `{"userinfo":null,"id_token":null}`, nil, nil, ""},
		{"space around", " \n{}\t", nil, nil, ""},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			cr, err := ParseClaimsRequest(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Names(cr.UserInfo); !slices.Equal(got, c.userinfo) && len(got)+len(c.userinfo) > 0 {
				t.Errorf("userinfo %v, want %v", got, c.userinfo)
			}
			if got := Names(cr.IDToken); !slices.Equal(got, c.idt) && len(got)+len(c.idt) > 0 {
				t.Errorf("id_token %v, want %v", got, c.idt)
			}
			if c.essential != "" && !cr.IDToken[c.essential].Essential {
				t.Errorf("%s not essential", c.essential)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"userinfo":[]}`, `{"id_token":{"email":1}}`,
		`{"id_token":{"email":{"essential":"yes"}}}`, `{"id_token":{"acr":{"values":"a"}}}`, `{} {}`, `{`,
		`{"userinfo":{"a":null}}x`} {
		if _, err := ParseClaimsRequest(bad); err == nil {
			t.Errorf("ParseClaimsRequest(%q) accepted", bad)
		}
	}
}

func TestClaimSpecStringValues(t *testing.T) {
	cr, err := ParseClaimsRequest(`{"id_token":{"acr":{"essential":true,"value":"x","values":["y","z"]},"n":{"value":1}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cr.IDToken["acr"].StringValues(); err != nil || !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Errorf("StringValues %v %v", got, err)
	}
	if _, err := cr.IDToken["n"].StringValues(); err == nil {
		t.Error("a number accepted as a string value")
	}
}

// FuzzParseClaimsRequest: never panics, and whatever it accepts is a
// well-formed object of claim sets.
func FuzzParseClaimsRequest(f *testing.F) {
	for _, s := range []string{`{"userinfo":{"email":null}}`, `{"id_token":{"acr":{"essential":true,"values":["a"]}}}`, `{}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := ParseClaimsRequest(s)
		if err != nil {
			return
		}
		for _, set := range []map[string]ClaimSpec{cr.UserInfo, cr.IDToken} {
			for _, spec := range set {
				_, _ = spec.StringValues()
			}
		}
	})
}
