package httpauth

import (
	"net/http"
	"strings"
)

// bearerToken returns the token of the one Authorization header of h, as
// RFC 6750 §2.1 defines it:
//
//	credentials = "Bearer" 1*SP b64token
//	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme is case-insensitive (RFC 9110 §11.1). No header, or a header
// with another scheme, is "no token" (RFC 6750 §3: a bare challenge);
// anything else that does not match the grammar, and more than one
// header, is invalid_request (§3.1). The grammar allows several spaces
// after the scheme, so they are accepted; leading and trailing whitespace
// is not part of a field value (RFC 9110 §5.5) and net/http removes it.
func bearerToken(h http.Header) (string, *Error) { return BearerToken(h) }

// BearerToken extracts the token of an "Authorization: Bearer" header as
// the middleware does (RFC 6750 §2.1), for a handler that takes the token
// some other way too (as OIDC UserInfo does, in a form body). No header, or
// another scheme, is an *Error with an empty Code (answer with a bare
// challenge); a malformed header or several are invalid_request.
func BearerToken(h http.Header) (string, *Error) {
	vals := h["Authorization"]
	switch len(vals) {
	case 0:
		return "", noToken(errNoToken)
	case 1:
	default:
		// Two headers could be two tokens; picking one would let a
		// component in front of us and this server disagree about which.
		return "", invalidRequest(errManyHeaders)
	}
	v := vals[0]
	if v == "" {
		return "", invalidRequest(errEmptyHeader)
	}
	scheme, rest := v, ""
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		scheme, rest = v[:i], v[i:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" {
			return "", invalidRequest(errEmptyHeader)
		}
		return "", noToken(errOtherScheme)
	}
	if rest == "" {
		return "", invalidRequest(errEmptyToken)
	}
	n := 0
	for n < len(rest) && rest[n] == ' ' {
		n++
	}
	if n == 0 {
		return "", invalidRequest(errBadSeparator)
	}
	token := rest[n:]
	if token == "" {
		return "", invalidRequest(errEmptyToken)
	}
	if !isB64Token(token) {
		return "", invalidRequest(errTokenSyntax)
	}
	return token, nil
}

// isB64Token reports whether s matches b64token (RFC 6750 §2.1).
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// b64tokenTable has 1 at the bytes b64token allows before any '=' (RFC
// 6750 §2.1): the scan runs over every byte of every token, and one load
// from a constant is less than half the cost of comparisons (a string
// constant, so there is no mutable table).
const b64tokenTable = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 00-0f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 10-1f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01\x01\x01" + // 20-2f
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00" + // 30-3f
	"\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // 40-4f
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x01" + // 50-5f
	"\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // 60-6f
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x01\x00" + // 70-7f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 80-8f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 90-9f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // a0-af
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // b0-bf
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // c0-cf
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // d0-df
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // e0-ef
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" //  f0-ff

func b64tokenChar(c byte) bool { return b64tokenTable[c] != 0 }
