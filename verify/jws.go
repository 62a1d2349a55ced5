package verify

import (
	"strconv"
	"strings"
	"time"
)

// b64 maps a base64url character (RFC 4648 §5) to its 6-bit value, and
// every other byte to 0xFF.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// b64Len returns the decoded length of an unpadded base64url string of n
// characters, or -1 when no such string has length n (RFC 7515 §2: "with
// all trailing '=' characters omitted").
func b64Len(n int) int {
	switch n % 4 {
	case 1:
		return -1
	case 2:
		return n/4*3 + 1
	case 3:
		return n/4*3 + 2
	}
	return n / 4 * 3
}

// decodeB64 appends the decoding of src to dst. It refuses characters
// outside the base64url alphabet (the decoders of encoding/base64 silently
// skip '\r' and '\n'), padding, and non-zero unused trailing bits (so every byte string has exactly one accepted encoding, and a
// token cannot be altered without changing its signed bytes).
func decodeB64(dst []byte, src string) ([]byte, bool) {
	if b64Len(len(src)) < 0 {
		return dst, false
	}
	i := 0
	for ; i+4 <= len(src); i += 4 {
		a, b, c, d := b64[src[i]], b64[src[i+1]], b64[src[i+2]], b64[src[i+3]]
		if (a|b|c|d)&0xC0 != 0 { // 0xFF marks a byte outside the alphabet
			return dst, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst = append(dst, byte(v>>16), byte(v>>8), byte(v))
	}
	switch len(src) - i {
	case 2:
		a, b := b64[src[i]], b64[src[i+1]]
		if (a|b)&0xC0 != 0 || b&0x0F != 0 {
			return dst, false
		}
		dst = append(dst, a<<2|b>>4)
	case 3:
		a, b, c := b64[src[i]], b64[src[i+1]], b64[src[i+2]]
		if (a|b|c)&0xC0 != 0 || c&0x03 != 0 {
			return dst, false
		}
		dst = append(dst, a<<2|b>>4, b<<4|c>>2)
	}
	return dst, true
}

// header is the part of the JOSE header (RFC 7515 §4.1) the verifier acts
// on. "jwk", "jku", "x5u", "x5c" and "x5t" are read for syntax only and then
// ignored: a key named by the token itself proves nothing, so nothing is
// ever fetched or trusted from them.
type header struct {
	alg, kid, typ   string
	hasTyp, hasCrit bool
	crit            string // the crit names, space-joined, for the error
}

func parseHeader(js string) (header, error) {
	var h header
	s := scanner{s: js}
	err := s.object(func(name string) error {
		var err error
		switch name {
		case "alg":
			h.alg, err = s.str()
			return typed(err, "header alg must be a string")
		case "kid":
			h.kid, err = s.str()
			return typed(err, "header kid must be a string")
		case "typ":
			h.hasTyp = true
			h.typ, err = s.str()
			return typed(err, "header typ must be a string")
		case "crit":
			h.hasCrit = true
			if s.peek() != '[' {
				h.crit = "(not an array)"
				return s.skip()
			}
			var names []string
			err = s.array(func() error {
				if !s.isString() {
					names = append(names, "(non-string)")
					return s.skip()
				}
				n, err := s.str()
				names = append(names, n)
				return err
			})
			h.crit = strings.Join(names, " ")
			return err
		}
		return s.skip()
	})
	if err != nil {
		return h, err
	}
	return h, s.end()
}

// typed turns a wrong-type error from a reader into a reason; syntax errors
// pass through.
func typed(err error, reason string) error {
	if err == errWrongType {
		return &jsonError{msg: reason, off: -1}
	}
	return err
}

// Claim indexes for typeErr.
const (
	cIss = iota
	cSub
	cAud
	cAzp
	cClientID
	cScope
	cExp
	cNbf
	cIat
	cJti
	cCnf
	nClaims
)

// rawClaims is the payload as parsed before any check: registered claims
// with the right type are set; a registered claim with the wrong JSON type
// is recorded in typeErr and reported by its own check, after the
// signature, so the order of checks holds.
type rawClaims struct {
	iss, sub, azp, clientID, scope, jti string
	aud                                 []string
	exp, nbf, iat                       time.Time
	has                                 [nClaims]bool
	typeErr                             [nClaims]string
	// jkt is cnf.jkt (RFC 9449 §6.1) when hasJKT; cnfOther names a cnf
	// member other than jkt, a confirmation method this package cannot
	// check (x5t#S256 of RFC 8705, jwk of RFC 7800, ...).
	jkt      string
	hasJKT   bool
	cnfOther string
}

// parseClaims reads the JWT Claims Set (RFC 7519 §4). js must be the
// decoded payload; strings without escapes are substrings of it.
func parseClaims(js string, c *rawClaims) error {
	s := scanner{s: js}
	str := func(i int, dst *string, reason string) error {
		c.has[i] = true
		if !s.isString() {
			c.typeErr[i] = reason
			return s.skip()
		}
		v, err := s.str()
		*dst = v
		return err
	}
	date := func(i int, dst *time.Time, reason string) error {
		c.has[i] = true
		start := s.pos
		sec, nsec, err := s.numericDate()
		if err == errWrongType {
			c.typeErr[i] = reason
			s.pos = start
			return s.skip()
		}
		*dst = time.Unix(sec, nsec)
		return err
	}
	err := s.object(func(name string) error {
		switch name {
		case "iss":
			return str(cIss, &c.iss, "iss must be a string")
		case "sub":
			return str(cSub, &c.sub, "sub must be a string")
		case "azp":
			return str(cAzp, &c.azp, "azp must be a string")
		case "client_id":
			return str(cClientID, &c.clientID, "client_id must be a string")
		case "scope":
			return str(cScope, &c.scope, "scope must be a space-separated string")
		case "jti":
			return str(cJti, &c.jti, "jti must be a string")
		case "exp":
			return date(cExp, &c.exp, "exp must be a NumericDate (seconds since 1970)")
		case "nbf":
			return date(cNbf, &c.nbf, "nbf must be a NumericDate (seconds since 1970)")
		case "iat":
			return date(cIat, &c.iat, "iat must be a NumericDate (seconds since 1970)")
		case "aud":
			c.has[cAud] = true
			return parseAud(&s, c)
		case "cnf":
			c.has[cCnf] = true
			return parseCnf(&s, c)
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}

// parseAud reads "aud" as RFC 7519 §4.1.3 allows: one string or an array of
// strings. Anything else (number, object, null, nested array, an array
// holding a non-string) is a type error for the audience check.
func parseAud(s *scanner, c *rawClaims) error {
	const reason = "aud must be a string or an array of strings"
	switch s.peek() {
	case '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		c.aud = []string{v}
		return nil
	case '[':
		// Collect into a stack buffer first so the usual short arrays cost
		// one exact-size allocation.
		var buf [8]string
		vals := buf[:0]
		bad := false
		err := s.array(func() error {
			if !s.isString() {
				bad = true
				return s.skip()
			}
			v, err := s.str()
			vals = append(vals, v)
			return err
		})
		if err != nil {
			return err
		}
		if bad {
			c.typeErr[cAud] = reason
			return nil
		}
		c.aud = make([]string, len(vals))
		copy(c.aud, vals)
		return nil
	}
	c.typeErr[cAud] = reason
	return s.skip()
}

// parseCnf reads "cnf" (RFC 7800 §3.1): an object of confirmation
// methods. A cnf of another type, or a jkt that is not a string, is a type
// error for the confirmation check; other members are noted, since a token
// bound by a method this package cannot check must not pass as unbound.
func parseCnf(s *scanner, c *rawClaims) error {
	if s.peek() != '{' {
		c.typeErr[cCnf] = "cnf must be a JSON object (RFC 7800 §3.1)"
		return s.skip()
	}
	return s.object(func(name string) error {
		if name != "jkt" {
			if c.cnfOther == "" {
				c.cnfOther = name
			}
			return s.skip()
		}
		c.hasJKT = true
		if !s.isString() {
			c.typeErr[cCnf] = "cnf.jkt must be a string (RFC 9449 §6.1)"
			return s.skip()
		}
		v, err := s.str()
		c.jkt = v
		return err
	})
}

// compact is a token split per RFC 7515 §7.1, before any JSON parsing.
type compact struct {
	header, payload, sig string // the base64url parts
	signingInput         string // header '.' payload, the bytes signed
}

// splitCompact requires exactly three parts; the character set and
// lengths are checked when each part is decoded.
func splitCompact(token string) (compact, string) {
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return compact{}, "a JWS has three base64url parts separated by '.'; found 1"
	}
	rest := token[d1+1:]
	d2 := strings.IndexByte(rest, '.')
	if d2 < 0 {
		return compact{}, "a JWS has three base64url parts separated by '.'; found 2"
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return compact{}, "a JWS has three base64url parts separated by '.'; found " + strconv.Itoa(strings.Count(token, ".")+1) + " (a JWE or a nested token is not an access token)"
	}
	c := compact{header: token[:d1], payload: token[d1+1 : d2], sig: token[d2+1:], signingInput: token[:d2]}
	if c.header == "" || c.payload == "" {
		return compact{}, "empty JWS header or payload"
	}
	return c, ""
}
