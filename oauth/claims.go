package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ACRPassword is the "acr" (OIDC Core §2) of a sign-in with a username and
// password at Gatehouse's own login page: the only authentication context
// Gatehouse offers today, advertised in acr_values_supported.
const ACRPassword = "urn:gatehouse:acr:password"

// ACRFederated is the "acr" of a sign-in through an upstream OpenID
// Connect provider: Gatehouse checked no credential itself; the upstream's
// own amr, when it sent one, is passed on in amr.
const ACRFederated = "urn:gatehouse:acr:federated"

// ClaimsRequest is the OIDC "claims" request parameter (OIDC Core §5.5):
// individual claims asked for in the UserInfo response and in the ID token.
type ClaimsRequest struct {
	UserInfo map[string]ClaimSpec
	IDToken  map[string]ClaimSpec
}

// ClaimSpec is one requested claim (§5.5.1): null, or an object with
// essential, value or values. Value and Values are kept as raw JSON,
// since a claim's value may be of any type.
type ClaimSpec struct {
	Essential bool
	Value     json.RawMessage
	Values    []json.RawMessage
}

// maxClaimsRequest bounds the parameter: a few dozen claims fit in 4 KiB.
const maxClaimsRequest = 8 << 10

// ParseClaimsRequest decodes the claims parameter. It refuses anything
// that is not a JSON object of objects as §5.5 defines it (so a malformed
// request is an invalid_request, not a silently ignored one); members
// other than userinfo and id_token are ignored, as §5.5 requires of
// unknown members.
func ParseClaimsRequest(s string) (ClaimsRequest, error) {
	var cr ClaimsRequest
	if len(s) > maxClaimsRequest {
		return cr, fmt.Errorf("claims: longer than %d bytes", maxClaimsRequest)
	}
	var top map[string]json.RawMessage
	if err := decodeObject([]byte(s), &top); err != nil {
		return cr, fmt.Errorf("claims: %w", err)
	}
	var err error
	if cr.UserInfo, err = parseClaimSet(top["userinfo"]); err != nil {
		return cr, fmt.Errorf("claims: userinfo: %w", err)
	}
	if cr.IDToken, err = parseClaimSet(top["id_token"]); err != nil {
		return cr, fmt.Errorf("claims: id_token: %w", err)
	}
	return cr, nil
}

func parseClaimSet(raw json.RawMessage) (map[string]ClaimSpec, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var members map[string]json.RawMessage
	if err := decodeObject(raw, &members); err != nil {
		return nil, err
	}
	out := make(map[string]ClaimSpec, len(members))
	for name, m := range members {
		var spec ClaimSpec
		if string(m) != "null" {
			var o struct {
				Essential *bool             `json:"essential"`
				Value     json.RawMessage   `json:"value"`
				Values    []json.RawMessage `json:"values"`
			}
			if err := decodeObject(m, &o); err != nil {
				return nil, fmt.Errorf("%q: %w", name, err)
			}
			if o.Essential != nil {
				spec.Essential = *o.Essential
			}
			spec.Value, spec.Values = o.Value, o.Values
		}
		out[name] = spec
	}
	return out, nil
}

// decodeObject decodes one JSON object (and nothing after it) into v.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// StringValues returns the string value or values a spec asks for; nil
// when it asks for none (§5.5.1).
func (c ClaimSpec) StringValues() ([]string, error) {
	var out []string
	raws := c.Values
	if c.Value != nil {
		raws = append([]json.RawMessage{c.Value}, raws...)
	}
	for _, r := range raws {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, errors.New("value must be a string")
		}
		out = append(out, s)
	}
	return out, nil
}

// Names lists the requested claim names, sorted.
func Names(set map[string]ClaimSpec) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
