package verify

import (
	"strings"
)

// Check names one step of the verification pipeline. The constants are
// listed in the order Verify runs them; the first failing step stops it.
// One exception: when the token's kid is unknown, the iss, aud and time
// checks are consulted before refetching the issuer's keys, and if one of
// them fails it is reported instead of CheckKey (see Verify).
//
// A Check is also an error value so that callers can write
// errors.Is(err, verify.CheckAudience) without type assertions.
type Check string

// The checks, in the order they run.
const (
	// CheckSize refuses tokens longer than Config.MaxTokenBytes before any
	// parsing, so oversized input costs nothing.
	CheckSize Check = "size"
	// CheckFormat is the compact JWS serialization (RFC 7515 §7.1): exactly
	// three strict base64url parts without padding, each of header and
	// payload a strict JSON object (RFC 8259, I-JSON rules of RFC 7493:
	// valid UTF-8, no duplicate member names, no trailing data).
	CheckFormat Check = "format"
	// CheckAlgorithm is the "alg" header (RFC 7515 §4.1.1): it must be in the
	// configured allowlist and equal to the algorithm of the selected key.
	CheckAlgorithm Check = "alg"
	// CheckType is the "typ" header (RFC 7515 §4.1.9, RFC 9068 §2.1).
	CheckType Check = "typ"
	// CheckCrit refuses any "crit" header (RFC 7515 §4.1.11): this verifier
	// understands no extension.
	CheckCrit Check = "crit"
	// CheckKey is the selection of the verification key by "kid" from the
	// issuer's JWK Set (RFC 7517 §5), including the refresh on an unknown
	// kid (made only for a token no key-independent check refuses).
	CheckKey Check = "key"
	// CheckSignature is the JWS signature (RFC 7515 §5.2, RFC 7518 §3).
	CheckSignature Check = "signature"
	// CheckIssuer is the exact comparison of "iss" (RFC 7519 §4.1.1).
	CheckIssuer Check = "iss"
	// CheckAudience requires the configured audience in "aud" (RFC 7519
	// §4.1.3, RFC 9068 §4), compared exactly and case-sensitively.
	CheckAudience Check = "aud"
	// CheckExpiry requires "exp" and refuses it once passed (RFC 7519 §4.1.4).
	CheckExpiry Check = "exp"
	// CheckNotBefore refuses a token before its "nbf" (RFC 7519 §4.1.5).
	CheckNotBefore Check = "nbf"
	// CheckIssuedAt refuses an "iat" in the future (RFC 7519 §4.1.6).
	CheckIssuedAt Check = "iat"
	// CheckConfirmation is "cnf" (RFC 7800 §3.1): whether the token is
	// bound to a key, and whether that is acceptable for how it is
	// presented. Verify refuses a token bound to a DPoP key (cnf.jkt), which
	// must not be accepted as a bearer token (RFC 9449 §7.1), unless
	// Config.AcceptBoundAsBearer; with Config.RequireDPoP it refuses every
	// token. VerifyDPoP refuses a token that is not bound. A cnf that is not
	// an object with a string jkt of 32 base64url bytes is refused by both.
	CheckConfirmation Check = "cnf"
	// CheckScope requires every scope the caller asked for in the
	// space-separated "scope" claim (RFC 9068 §2.2.3, RFC 6749 §3.3).
	CheckScope Check = "scope"
)

// checks lists every check in pipeline order; Explain reports one Step per
// entry.
var checks = [...]Check{
	CheckSize, CheckFormat, CheckAlgorithm, CheckType, CheckCrit, CheckKey,
	CheckSignature, CheckIssuer, CheckAudience, CheckExpiry, CheckNotBefore,
	CheckIssuedAt, CheckConfirmation, CheckScope,
}

// Checks returns every check in the order Verify runs them.
func Checks() []Check { return append([]Check(nil), checks[:]...) }

// Error returns the check's name, as String would: it exists to make a
// Check usable as an errors.Is target (Verify never returns a bare Check),
// and keeps fmt printing a Check as its name.
func (c Check) Error() string { return string(c) }

// String returns the check's name ("aud", "exp", ...).
func (c Check) String() string { return string(c) }

// Code says, within a Check, what kind of failure it was. Reason is prose
// for people and may be reworded between versions; a Code is a stable
// value for programs (metrics, alerting, choosing a fix) to switch on. Read
// it together with Check: CodeMissing under CheckIssuer means no iss.
type Code string

// The codes. Every *Error this package returns has one of them.
const (
	// CodeMissing: the header or claim the check needs is absent (alg,
	// typ, kid, iss, aud, exp).
	CodeMissing Code = "missing"
	// CodeWrongType: a registered claim has the wrong JSON type, such as a
	// numeric iss or an exp given as a string. (A header of the wrong type
	// is a CheckFormat failure, CodeMalformed.)
	CodeWrongType Code = "wrong_type"
	// CodeNotAccepted: the value is well-formed but not one this verifier
	// accepts: a token over MaxTokenBytes, an alg outside Config.Algorithms,
	// a typ outside Config.Types, any crit header, an iss other than
	// Config.Issuer, an aud without Config.Audience, or missing scopes.
	CodeNotAccepted Code = "not_accepted"
	// CodeMalformed: the token is not a compact JWS of strict base64url and
	// strict JSON (CheckFormat).
	CodeMalformed Code = "malformed"
	// CodeDuplicateMember: a JSON object in the header or payload repeats a
	// member name, exactly or differing only in case (CheckFormat).
	CodeDuplicateMember Code = "duplicate_member"
	// CodeForbiddenAlg: alg is "none" or an HMAC algorithm, which no
	// configuration can enable; it is the signature of a forgery attempt.
	CodeForbiddenAlg Code = "forbidden_alg"
	// CodeKeyMismatch: the kid names an issuer key of another algorithm
	// than the token's alg (CheckAlgorithm, RFC 8725 §3.1).
	CodeKeyMismatch Code = "key_mismatch"
	// CodeUnknownKey: the issuer's key set has no key with the token's kid,
	// whether or not it was refetched (Reason says which).
	CodeUnknownKey Code = "unknown_key"
	// CodeKeyRefreshFailed: the kid is unknown and refetching the key set
	// failed; Error.Err holds the cause.
	CodeKeyRefreshFailed Code = "key_refresh_failed"
	// CodeBadSignature: the signature does not verify with the selected
	// key (CheckSignature).
	CodeBadSignature Code = "bad_signature"
	// CodeExpired: exp, plus the leeway, has passed (CheckExpiry).
	CodeExpired Code = "expired"
	// CodeInFuture: nbf or iat, less the leeway, is still in the future
	// (CheckNotBefore, CheckIssuedAt).
	CodeInFuture Code = "in_future"
)

// Error is the one error type Verify returns for a refused token. It says
// which check failed (Check) and how (Code), why in words (Reason), the
// offending value taken from the token (Value) and, where there is one,
// what was expected (Want).
//
// Value comes from an attacker-controlled token: callers that log it or put
// it in a response must treat it as untrusted text. Description returns the
// text meant for an RFC 6750 error_description.
type Error struct {
	// Check is the step that refused the token.
	Check Check
	// Reason explains the failure in a sentence, for logs and people.
	Reason string
	// Value is the token's offending value: the space-joined audience for
	// CheckAudience, the issuer for CheckIssuer, the kid for CheckKey, the
	// missing scopes (space-separated) for CheckScope, and so on.
	Value string
	// Want is what the verifier expected: the configured audience or
	// issuer, the allowlist, or every required scope (space-separated) for
	// CheckScope — the value RFC 6750 §3 puts in the scope attribute.
	Want string
	// Err is an underlying cause, such as a failed JWKS fetch.
	Err error
	// Code is the kind of failure within Check, for programs; see Code.
	// It was added after the other fields, so Errors built elsewhere (fakes
	// in tests) may leave it empty.
	Code Code
}

// Error returns "verify: <check>: <reason>".
func (e *Error) Error() string {
	s := "verify: " + string(e.Check) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Check, so errors.Is(err, CheckExpiry)
// works through any wrapping.
func (e *Error) Is(target error) bool {
	c, ok := target.(Check)
	return ok && c == e.Check
}

// InsufficientScope reports whether the token was valid but lacks a
// required scope: RFC 6750 §3.1 answers that with 403 insufficient_scope
// instead of 401 invalid_token.
func (e *Error) InsufficientScope() bool { return e.Check == CheckScope }

// Description is the text for an RFC 6750 §3 error_description. For an
// audience failure it is exactly "The audience '<aud>' is invalid", with the
// token's audience values joined by single spaces. The text contains token
// values; RFC 6750 restricts error_description to printable ASCII without
// '"' and '\', so non-conforming bytes are replaced by '?'.
func (e *Error) Description() string {
	var s string
	switch e.Check {
	case CheckSize:
		s = "The token is too large"
	case CheckFormat:
		s = "The token is malformed: " + e.Reason
	case CheckAlgorithm:
		s = "The token algorithm '" + e.Value + "' is not accepted"
	case CheckType:
		s = "The token type '" + e.Value + "' is not an access token type"
	case CheckCrit:
		s = "The token has unsupported critical headers '" + e.Value + "'"
	case CheckKey:
		s = "The token signing key '" + e.Value + "' is unknown"
	case CheckSignature:
		s = "The token signature is invalid"
	case CheckIssuer:
		s = "The issuer '" + e.Value + "' is invalid"
	case CheckAudience:
		s = "The audience '" + e.Value + "' is invalid"
	case CheckExpiry:
		s = "The token is expired"
		if e.Value == "" {
			s = "The token has no expiry"
		}
	case CheckNotBefore:
		s = "The token is not valid yet"
	case CheckIssuedAt:
		s = "The token was issued in the future"
	case CheckConfirmation:
		switch e.Code {
		case CodeBoundAsBearer:
			s = "The token is bound to a DPoP key; present it with the DPoP scheme and a proof"
		case CodeUnbound:
			s = "The token is not bound to a DPoP key, which this resource requires"
		default:
			s = "The token's confirmation claim (cnf) is invalid or unsupported"
		}
	case CheckScope:
		s = "The token lacks the scope '" + e.Value + "'"
	case CheckProof:
		s = "The request must carry exactly one DPoP proof of at most 8 KiB"
	case CheckProofFormat:
		s = "The DPoP proof is malformed: " + e.Reason
	case CheckProofType:
		s = "The DPoP proof's typ must be dpop+jwt"
	case CheckProofAlgorithm:
		s = "The DPoP proof algorithm '" + e.Value + "' is not accepted"
	case CheckProofKey:
		s = "The DPoP proof's jwk is not an acceptable public key for its alg"
	case CheckProofJTI:
		s = "The DPoP proof's jti is missing or invalid"
	case CheckProofMethod:
		s = "The DPoP proof is for method '" + e.Value + "', not '" + e.Want + "'"
	case CheckProofURL:
		s = "The DPoP proof's htu is missing or invalid"
		if e.Code == CodeNotAccepted {
			s = "The DPoP proof is for " + e.Value + ", not " + e.Want
		}
	case CheckProofTime:
		switch e.Code {
		case CodeExpired:
			s = "The DPoP proof is too old"
		case CodeInFuture:
			s = "The DPoP proof was made in the future; check the client's clock"
		default:
			s = "The DPoP proof's iat is missing or invalid"
		}
	case CheckProofATH:
		s = "The DPoP proof is not for this access token (ath)"
	case CheckProofNonce:
		s = "The DPoP proof must carry the server's current nonce"
	case CheckProofBinding:
		s = "The DPoP proof's key is not the one the token is bound to"
	case CheckProofReplay:
		s = "The DPoP proof was used before"
	case CheckProofSignature:
		s = "The DPoP proof's signature is invalid"
	default:
		s = e.Reason
	}
	return sanitizeDescription(s)
}

// sanitizeDescription keeps s within the error_description character set
// of RFC 6750 §3 (%x20-21 / %x23-5B / %x5D-7E), so a hostile token value
// cannot break the WWW-Authenticate header it ends up in.
func sanitizeDescription(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func fail(c Check, code Code, reason, value, want string) *Error {
	return &Error{Check: c, Code: code, Reason: reason, Value: value, Want: want}
}
