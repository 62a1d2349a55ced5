package main

import (
	"strings"
	"testing"
)

// A token copied from a JSON body, a shell history or a request header
// arrives with wrappers; explain must check the token itself, or say what
// stops it from finding one.
func TestReadTokenUnwrapsPastes(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	for _, pasted := range []string{
		jwt,
		"  " + jwt + "\n",
		`"` + jwt + `"`,
		`'` + jwt + `'`,
		"Bearer " + jwt,
		"bearer   " + jwt,
		`"Bearer ` + jwt + `"`,
		`'Bearer "` + jwt + `"'`,
		"Bearer '" + jwt + "'",
		"Authorization: Bearer " + jwt + "\r\n",
		` " ` + jwt + ` " `,
	} {
		for _, viaStdin := range []bool{false, true} {
			args, in := []string{pasted}, strings.NewReader("")
			if viaStdin {
				args, in = []string{"-"}, strings.NewReader(pasted)
			}
			got, err := readToken(in, args)
			if err != nil || got != jwt {
				t.Errorf("readToken(%q, stdin=%v) = %q, %v; want the bare token", pasted, viaStdin, got, err)
			}
		}
	}
}

func TestReadTokenSaysWhatIsWrong(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	for pasted, want := range map[string]string{
		"":                      "no token",
		`""`:                    "no token",
		"Bearer ":               "no token",
		`"` + jwt:               "quote at one end but not the other",
		jwt + `'`:               "quote at one end but not the other",
		`"` + jwt + `'`:         "quote at one end but not the other",
		jwt[:10] + `"` + jwt:    "contains a quote",
		jwt[:10] + " " + jwt:    "contains white space",
		"Token: " + jwt:         "contains white space",
		"Bearer\t" + jwt[:5]:    "contains white space",
		jwt + "\n" + jwt + "\n": "contains white space",
	} {
		_, err := readToken(strings.NewReader(""), []string{pasted})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readToken(%q) error = %v, want one saying %q", pasted, err, want)
		}
	}
}
