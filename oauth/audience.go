package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Audience is the "aud" claim of RFC 7519 §4.1.3: the recipients a token is
// intended for. Values are case-sensitive StringOrURI strings compared
// exactly; Gatehouse has no other audience comparator on purpose (no port
// stripping, no prefix or case-folding matches).
type Audience []string

// Contains reports whether id is one of the audience values, by exact,
// case-sensitive comparison.
func (a Audience) Contains(id string) bool {
	for _, v := range a {
		if v == id {
			return true
		}
	}
	return false
}

// String returns the values joined by single spaces, the form RFC 6750
// error descriptions and the `audience` request parameter use.
func (a Audience) String() string { return strings.Join(a, " ") }

// MarshalJSON encodes a single value as a JSON string and several as an
// array, as RFC 7519 §4.1.3 permits and most verifiers expect.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(a))
}

// ErrAudienceType is returned when "aud" is neither a string nor an array of
// strings.
var ErrAudienceType = errors.New("aud must be a string or an array of strings")

// UnmarshalJSON accepts a JSON string or an array of strings and nothing
// else: numbers, objects, null and nested arrays are refused.
func (a *Audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ErrAudienceType
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(Audience, 0, len(raw))
		for _, r := range raw {
			r = bytes.TrimSpace(r)
			if len(r) == 0 || r[0] != '"' {
				return ErrAudienceType
			}
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		*a = out
		return nil
	}
	return ErrAudienceType
}
