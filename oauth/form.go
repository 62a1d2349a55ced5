package oauth

import (
	"net/url"
	"strings"
)

// Form is a strictly parsed application/x-www-form-urlencoded body.
// RFC 6749 §3.1 and §3.2: a parameter sent without a value is treated as
// omitted, and no parameter may appear more than once, except those an
// extension makes repeatable (RFC 8707 "resource").
type Form struct {
	kv []param
}

type param struct{ key, value string }

// maxParams bounds the work an oversized-but-under-limit body can cause.
const maxParams = 64

// ParseForm parses body strictly; repeatable reports which keys may repeat.
// The error is an invalid_request that names the offending parameter.
func ParseForm(body string, repeatable func(string) bool) (Form, *Error) {
	p := Form{kv: make([]param, 0, 8)}
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if len(p.kv) == maxParams {
			return Form{}, InvalidRequest("too many parameters")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := unescape(k)
		if err != nil || key == "" {
			return Form{}, InvalidRequest("malformed form encoding in a parameter name")
		}
		val, err := unescape(v)
		if err != nil {
			return Form{}, InvalidRequest("malformed form encoding in parameter '" + SafeName(key) + "'")
		}
		if val == "" {
			continue // RFC 6749 §3.1: same as omitted
		}
		if !repeatable(key) {
			for _, e := range p.kv {
				if e.key == key {
					return Form{}, InvalidRequest("parameter '" + SafeName(key) + "' was sent more than once (RFC 6749 §3.2)")
				}
			}
		}
		p.kv = append(p.kv, param{key, val})
	}
	return p, nil
}

// unescape decodes form encoding without allocating for the common case of
// a value that needs no decoding.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// Get returns the value of key and whether it was present.
func (p Form) Get(key string) (string, bool) {
	for _, e := range p.kv {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// All returns every value of a repeatable key, in order.
func (p Form) All(key string) []string {
	var out []string
	for _, e := range p.kv {
		if e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}
