package web

import (
	"strings"
)

// DescribeScope says in plain words what granting a scope means for the
// person, for the consent page. The OpenID Connect scopes have fixed
// descriptions; an API scope of the form "noun:verb" or "verb:noun" (also
// with "." or "/" as the separator), such as "orders:read", becomes "Read
// your orders". Anything else is shown as "Use the permission 'X'", so an
// unknown scope is still named rather than hidden.
func DescribeScope(scope string) string {
	switch scope {
	case "openid":
		return "Confirm who you are"
	case "profile":
		return "Your name and profile details"
	case "email":
		return "Your email address"
	case "offline_access":
		return "Stay signed in: access when you are not present"
	case "address":
		return "Your postal address"
	case "phone":
		return "Your phone number"
	}
	if d, ok := describeAPIScope(scope); ok {
		return d
	}
	return "Use the permission '" + scope + "'"
}

// describeAPIScope handles two-part scopes. Only exactly two parts are
// understood: guessing at longer ones ("api:orders:items:read") would put
// words in the API owner's mouth.
func describeAPIScope(scope string) (string, bool) {
	i := strings.IndexAny(scope, ":./")
	if i < 0 || strings.ContainsAny(scope[i+1:], ":./") {
		return "", false
	}
	a, b := strings.ToLower(scope[:i]), strings.ToLower(scope[i+1:])
	if pattern, ok := verbPattern(b); ok {
		if noun, ok := plainNoun(a); ok {
			return strings.Replace(pattern, "%s", noun, 1), true
		}
	}
	if pattern, ok := verbPattern(a); ok {
		if noun, ok := plainNoun(b); ok {
			return strings.Replace(pattern, "%s", noun, 1), true
		}
	}
	return "", false
}

// verbPattern maps the common permission verbs to a sentence with a %s
// for the noun.
func verbPattern(verb string) (string, bool) {
	switch verb {
	case "read", "view", "get", "list":
		return "Read your %s", true
	case "write", "edit", "update", "modify":
		return "Create and change your %s", true
	case "create", "add":
		return "Create %s for you", true
	case "delete", "remove":
		return "Delete your %s", true
	case "manage", "admin", "all", "full":
		return "Manage your %s", true
	}
	return "", false
}

// plainNoun turns an identifier such as "order_status" into "order status"
// and refuses anything that is not a simple word, so the sentence never
// shows punctuation or markup as if it were English.
func plainNoun(s string) (string, bool) {
	if s == "" || len(s) > 40 {
		return "", false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return "", false
		}
	}
	if s[0] < 'a' || s[0] > 'z' {
		return "", false
	}
	if _, isVerb := verbPattern(s); isVerb {
		return "", false // "read:write" is not a noun
	}
	noun := strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' }), " ")
	return noun, noun != ""
}
