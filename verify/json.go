package verify

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is a strict JSON reader for JOSE headers and JWT claims. It
// exists because encoding/json is both too slow for the hot path
// (reflection, an allocation per value) and too lenient for security
// decisions: it silently keeps the last of duplicated members, replaces
// invalid UTF-8, and accepts lone surrogates. Here all of these are errors
// (RFC 7515 §4 / RFC 7519 §4 require unique member names; RFC 7493 I-JSON
// requires valid Unicode), and values without escapes are returned as
// substrings of the input, without copying.

// maxDepth bounds nesting so a hostile payload cannot exhaust the stack.
const maxDepth = 32

// jsonError is a syntax error with the offset where it was found.
type jsonError struct {
	msg string
	off int
	// dup marks a repeated member name (exactly or up to case), which the
	// verifier reports with its own Code.
	dup bool
}

func (e *jsonError) Error() string {
	if e.off < 0 {
		return e.msg
	}
	return e.msg + " at offset " + strconv.Itoa(e.off)
}

// errWrongType is returned by typed readers when a value exists but has the
// wrong JSON type; callers turn it into a claim-specific reason.
var errWrongType = errors.New("wrong JSON type")

type scanner struct {
	s     string
	pos   int
	depth int
}

func (s *scanner) errf(msg string) error { return &jsonError{msg: msg, off: s.pos} }

func (s *scanner) errDup(msg string) error { return &jsonError{msg: msg, off: s.pos, dup: true} }

func (s *scanner) skipWS() {
	for s.pos < len(s.s) {
		switch s.s[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-whitespace byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.pos < len(s.s) {
		return s.s[s.pos]
	}
	return 0
}

// end requires that nothing but whitespace follows.
func (s *scanner) end() error {
	s.skipWS()
	if s.pos != len(s.s) {
		return s.errf("trailing data after JSON object")
	}
	return nil
}

// object reads one JSON object, calling member for each name with the
// scanner positioned at the value; member must consume exactly that value.
// Duplicate names (after unescaping) are refused, and so are names that
// differ only in case ("role" and "ROLE", or "scope" and "\u017fcope"): RFC
// 7519 names are case-sensitive, but encoding/json v1 and many other
// decoders match them case-insensitively, so such twins would let the
// value a caller's decoder picks differ from the one checked here.
func (s *scanner) object(member func(name string) error) error {
	if s.peek() != '{' {
		return s.errf("expected JSON object")
	}
	s.depth++
	if s.depth > maxDepth {
		return s.errf("JSON nested too deeply")
	}
	s.pos++
	// Names are remembered with their fold keys (see foldKey) in a small
	// stack array; the few objects with more members spill into a map so
	// duplicate detection stays linear.
	var small [16]seenName
	n := 0
	var many map[string]string // fold key -> name
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.errf("expected member name")
		}
		name, err := s.str()
		if err != nil {
			return err
		}
		key := foldKey(name)
		prev, dup := "", false
		if many != nil {
			if prev, dup = many[key]; !dup {
				many[key] = name
			}
		} else {
			for _, p := range small[:n] {
				if p.key == key {
					prev, dup = p.name, true
					break
				}
			}
			switch {
			case dup:
			case n < len(small):
				small[n] = seenName{name, key}
				n++
			default:
				many = make(map[string]string, 2*len(small))
				for _, p := range small {
					many[p.key] = p.name
				}
				many[key] = name
			}
		}
		if dup {
			if prev == name {
				return s.errDup("duplicate member " + strconv.Quote(name))
			}
			return s.errDup("members " + strconv.Quote(prev) + " and " + strconv.Quote(name) + " differ only in case")
		}
		if s.peek() != ':' {
			return s.errf("expected ':' after member name")
		}
		s.pos++
		s.skipWS()
		if err := member(name); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.errf("expected ',' or '}' in object")
		}
	}
}

// seenName is a member name already read in an object, with its fold key.
type seenName struct{ name, key string }

// foldKey maps name to a key such that two names have the same key exactly
// when strings.EqualFold reports them equal, which is also how
// encoding/json v1 matches names: every rune is replaced by one fixed
// member of its Unicode simple-folding orbit (unicode.SimpleFold). The
// representative is the ASCII lower-case letter when the orbit has one, so
// the usual lower-case ASCII names are their own key and cost no
// allocation; otherwise it is the orbit's smallest rune.
func foldKey(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			var b strings.Builder
			b.Grow(len(name))
			for _, r := range name {
				b.WriteRune(foldRune(r))
			}
			return b.String()
		}
	}
	return name
}

// foldRune returns the representative of r's simple-folding orbit (see
// foldKey). The orbits of 'k' and 's' hold non-ASCII runes too (U+212A
// KELVIN SIGN, U+017F LATIN SMALL LETTER LONG S), which is why non-ASCII
// runes are folded through the whole orbit rather than with ToLower.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	best := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if 'a' <= f && f <= 'z' {
			return f
		}
		best = min(best, f)
	}
	return best
}

// array reads one JSON array, calling elem with the scanner positioned at
// each element; elem must consume exactly that element.
func (s *scanner) array(elem func() error) error {
	if s.peek() != '[' {
		return s.errf("expected JSON array")
	}
	s.depth++
	if s.depth > maxDepth {
		return s.errf("JSON nested too deeply")
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipWS()
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.errf("expected ',' or ']' in array")
		}
	}
}

// skip consumes any one JSON value, validating it as strictly as the typed
// readers do (nested objects are checked for duplicates too).
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{':
		return s.object(func(string) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err := s.number()
		return err
	case 0:
		return s.errf("unexpected end of JSON")
	}
	return s.errf("invalid character " + strconv.QuoteRune(rune(s.s[s.pos])))
}

func (s *scanner) literal(lit string) error {
	if !strings.HasPrefix(s.s[s.pos:], lit) {
		return s.errf("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

// isString reports whether the next value is a string (the typed readers use
// it to tell a wrong type from a syntax error).
func (s *scanner) isString() bool { return s.peek() == '"' }

// str reads a string value. Without escapes the result is a substring of
// the input (no allocation); with escapes it is decoded into a new string.
// Control characters, invalid escapes, invalid UTF-8 and unpaired surrogates
// are refused.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		return "", errWrongType
	}
	s.pos++
	start := s.pos
	escaped := false
	for s.pos < len(s.s) {
		c := s.s[s.pos]
		switch {
		case c == '"':
			raw := s.s[start:s.pos]
			s.pos++
			if !escaped {
				return raw, nil
			}
			return s.unescape(raw, start)
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.s) {
				return "", s.errf("unterminated string")
			}
			switch s.s[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.s) {
					return "", s.errf("short \\u escape")
				}
				if _, ok := hex4(s.s[s.pos+2 : s.pos+6]); !ok {
					return "", s.errf("invalid \\u escape")
				}
				s.pos += 6
			default:
				return "", s.errf("invalid escape")
			}
		case c < 0x20:
			return "", s.errf("control character in string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRuneInString(s.s[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", s.errf("invalid UTF-8 in string")
			}
			s.pos += size
		}
	}
	return "", s.errf("unterminated string")
}

// unescape decodes raw, whose escapes str has already checked for syntax;
// here surrogate pairing is checked. off is raw's offset, for errors.
func (s *scanner) unescape(raw string, off int) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			b.WriteByte(raw[i+1])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, _ := hex4(raw[i+2 : i+6])
			i += 6
			switch {
			case r >= 0xD800 && r < 0xDC00:
				// A high surrogate must be followed by an escaped low one.
				if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return "", &jsonError{msg: "unpaired surrogate in string", off: off + i}
				}
				lo, _ := hex4(raw[i+2 : i+6])
				if lo < 0xDC00 || lo > 0xDFFF {
					return "", &jsonError{msg: "unpaired surrogate in string", off: off + i}
				}
				i += 6
				b.WriteRune(0x10000 + (r-0xD800)<<10 + (lo - 0xDC00))
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", &jsonError{msg: "unpaired surrogate in string", off: off + i}
			default:
				b.WriteRune(r)
			}
			continue
		}
		i += 2
	}
	return b.String(), nil
}

func hex4(h string) (rune, bool) {
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads a number per the RFC 8259 §6 grammar and returns its text.
func (s *scanner) number() (string, error) {
	start := s.pos
	i := s.pos
	n := len(s.s)
	if i < n && s.s[i] == '-' {
		i++
	}
	switch {
	case i < n && s.s[i] == '0':
		i++
	case i < n && s.s[i] >= '1' && s.s[i] <= '9':
		for i < n && s.s[i] >= '0' && s.s[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return "", s.errf("invalid number")
	}
	if i < n && s.s[i] == '.' {
		i++
		d := i
		for i < n && s.s[i] >= '0' && s.s[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return "", s.errf("invalid number")
		}
	}
	if i < n && (s.s[i] == 'e' || s.s[i] == 'E') {
		i++
		if i < n && (s.s[i] == '+' || s.s[i] == '-') {
			i++
		}
		d := i
		for i < n && s.s[i] >= '0' && s.s[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			return "", s.errf("invalid number")
		}
	}
	s.pos = i
	return s.s[start:i], nil
}

// numericDate reads an RFC 7519 §2 NumericDate: seconds since the epoch,
// possibly fractional. It returns errWrongType for a non-number and for a
// number outside the range time.Time can represent sensibly.
func (s *scanner) numericDate() (sec int64, nsec int64, err error) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, 0, errWrongType
	}
	lit, err := s.number()
	if err != nil {
		return 0, 0, err
	}
	// Fast path: a plain integer, which is what every issuer sends.
	if len(lit) <= 18 {
		neg := lit[0] == '-'
		digits := lit
		if neg {
			digits = lit[1:]
		}
		var v int64
		plain := true
		for i := 0; i < len(digits); i++ {
			d := digits[i]
			if d < '0' || d > '9' {
				plain = false
				break
			}
			v = v*10 + int64(d-'0')
		}
		if plain {
			if neg {
				v = -v
			}
			if v > maxNumericDate || v < -maxNumericDate {
				return 0, 0, errWrongType
			}
			return v, 0, nil
		}
	}
	f, perr := strconv.ParseFloat(lit, 64)
	if perr != nil || math.IsInf(f, 0) || math.IsNaN(f) || f > maxNumericDate || f < -maxNumericDate {
		return 0, 0, errWrongType
	}
	whole, frac := math.Modf(f)
	sec, nsec = int64(whole), int64(frac*1e9)
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return sec, nsec, nil
}

// maxNumericDate (year ~33658) keeps time arithmetic with any leeway far
// from overflow.
const maxNumericDate = 1 << 40
