package server

import (
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
)

// params is a strictly parsed application/x-www-form-urlencoded body.
// RFC 6749 §3.1 and §3.2: a parameter sent without a value is treated as
// omitted, and no parameter may appear more than once, except those an
// extension makes repeatable (RFC 8707 "resource").
type params struct {
	kv []param
}

type param struct{ key, value string }

// maxParams bounds the work an oversized-but-under-limit body can cause.
const maxParams = 64

// parseForm parses body strictly; repeatable reports which keys may repeat.
// The error is an invalid_request that names the offending parameter.
func parseForm(body string, repeatable func(string) bool) (params, *oauth.Error) {
	p := params{kv: make([]param, 0, 8)}
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if len(p.kv) == maxParams {
			return params{}, oauth.InvalidRequest("too many parameters")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := unescape(k)
		if err != nil || key == "" {
			return params{}, oauth.InvalidRequest("malformed form encoding in a parameter name")
		}
		val, err := unescape(v)
		if err != nil {
			return params{}, oauth.InvalidRequest("malformed form encoding in parameter '" + safeName(key) + "'")
		}
		if val == "" {
			continue // RFC 6749 §3.1: same as omitted
		}
		if !repeatable(key) {
			for _, e := range p.kv {
				if e.key == key {
					return params{}, oauth.InvalidRequest("parameter '" + safeName(key) + "' was sent more than once (RFC 6749 §3.2)")
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

// safeName keeps parameter names echoed in error descriptions short and
// within the characters RFC 6749 §5.2 allows there.
func safeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// get returns the value of key and whether it was present.
func (p params) get(key string) (string, bool) {
	for _, e := range p.kv {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// all returns every value of a repeatable key, in order.
func (p params) all(key string) []string {
	var out []string
	for _, e := range p.kv {
		if e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

func tokenParamRepeatable(k string) bool { return k == "resource" }
