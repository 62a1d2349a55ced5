package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
)

// Verifier checks RFC 9068 JWT access tokens for one API (its audience) from
// one issuer. It is safe for concurrent use; create one per audience and
// share it.
//
// A Verifier establishes that a token was signed by the issuer, is meant
// for this API, is within its validity period and carries the required
// scopes, and that a token bound to a DPoP key comes with a proof from
// that key (VerifyDPoP). It does not check revocation (use introspection,
// RFC 7662, when a token must die before exp), mTLS binding, or any
// claim beyond those listed on Verify: the caller stays responsible for
// authorisation decisions based on the subject and client.
type Verifier struct {
	cfg   *settings
	keys  *keySet
	cache *tokenCache // nil unless Config.CacheSize > 0
}

// New validates cfg and loads the issuer's keys: from StaticJWKS, or from
// JWKSURL, or from the jwks_uri in the issuer's discovery document. It
// fails when the keys cannot be loaded, so a misconfigured issuer URL shows
// at start-up rather than as refused tokens; ctx bounds only this initial
// loading.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: s}
	v.keys = &keySet{
		client:      s.HTTPClient,
		clock:       s.Clock,
		minInterval: s.MinRefreshInterval,
		maxAge:      s.RefreshInterval,
	}
	if s.StaticJWKS != nil {
		snap, err := parseJWKS(s.StaticJWKS)
		if err != nil {
			return nil, fmt.Errorf("verify: StaticJWKS: %w", err)
		}
		v.keys.cur.Store(snap)
	} else {
		v.keys.url = s.JWKSURL
		if v.keys.url == "" {
			if v.keys.url, err = discover(ctx, s.HTTPClient, s.Issuer, s.InsecureAllowHTTP); err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
		}
		v.keys.lastAttempt.Store(s.Clock().UnixNano())
		v.keys.fetches.Add(1)
		body, err := get(ctx, s.HTTPClient, v.keys.url)
		if err != nil {
			return nil, fmt.Errorf("verify: JWKS: %w", err)
		}
		snap, err := parseJWKS(body)
		if err != nil {
			return nil, fmt.Errorf("verify: JWKS %s: %w", v.keys.url, err)
		}
		snap.fetched = s.Clock()
		v.keys.cur.Store(snap)
	}
	if s.CacheSize > 0 {
		v.cache = newTokenCache(s.CacheSize)
	}
	return v, nil
}

// Refresh refetches the issuer's key set now, regardless of
// MinRefreshInterval (for example on an operator's signal after an
// emergency key revocation). With StaticJWKS it does nothing.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.keys.url == "" {
		return nil
	}
	return v.keys.refresh(ctx, v.cfg.Clock(), true)
}

// Verify checks token and returns its claims, or an *Error naming the
// first check that failed. The checks, in order:
//
//  1. size: at most Config.MaxTokenBytes;
//  2. format: compact JWS (RFC 7515 §7.1), strict base64url and strict JSON
//     (duplicate members, invalid UTF-8 and trailing data refused);
//  3. alg: in the allowlist ("none" and HMAC never) and equal to the key's;
//  4. typ: one of Config.Types (RFC 9068 §2.1);
//  5. crit: absent (RFC 7515 §4.1.11; no extension is understood);
//  6. key: the issuer's key with the token's kid; an unknown kid triggers
//     one rate-limited JWKS refresh, unless one of checks 8 to 10 refuses
//     the token anyway: then that check's error is returned and nothing is
//     fetched. Keys named by the token itself (jwk, jku, x5u, x5c headers)
//     are never used or fetched;
//  7. signature;
//  8. iss equals Config.Issuer exactly;
//  9. aud (string or array) contains Config.Audience, case-sensitively;
//  10. exp present and not passed, nbf not in the future, iat not in the
//     future, each with Config.Leeway;
//  11. cnf: the token is not bound to a DPoP key (cnf.jkt), which must be
//     presented with VerifyDPoP (unless Config.AcceptBoundAsBearer), and
//     Config.RequireDPoP is not set, which refuses every token here;
//  12. scope contains every one of requiredScopes.
//
// With Config.CacheSize set, a token verified before is answered from the
// cache (the required scopes are still checked), and the returned Claims
// are shared between calls. Treat the returned Claims as read-only.
//
// The caller remains responsible for obtaining the token per RFC 6750
// (Authorization header, not the query string) and for what the subject
// and client may do.
func (v *Verifier) Verify(ctx context.Context, token string, requiredScopes ...string) (*Claims, error) {
	now := v.cfg.Clock()
	if v.cache != nil {
		if c, ok := v.cache.get(token, now); ok {
			// The entry may come from VerifyDPoP, which accepts bound
			// tokens: the bearer rule is applied on every hit.
			if e := v.bindingPolicy(c.Confirmation.JKT, asBearer); e != nil {
				return nil, e
			}
			if e := checkScopes(c.Scopes, requiredScopes); e != nil {
				return nil, e
			}
			return c, nil
		}
	}
	var p parsed
	c, e := v.run(ctx, &p, token, requiredScopes, now, nil, asBearer)
	if e != nil {
		return nil, e
	}
	return c, nil
}

// parsed holds one token while it is checked; it lives on Verify's stack.
type parsed struct {
	c      compact
	hdr    header
	claims rawClaims
	raw    []byte // the decoded payload, which becomes Claims.Raw
}

// recorder collects every step's outcome for Explain; nil in Verify, which
// stops at the first failure instead.
type recorder struct {
	steps [len(checks)]Step
}

func (r *recorder) record(c Check, e *Error, skipped string) {
	for i := range r.steps {
		if checks[i] == c {
			r.steps[i] = Step{Check: c, OK: e == nil && skipped == "", Skipped: skipped, Err: e}
			return
		}
	}
}

// run is the one implementation of the checks, shared by Verify and
// Explain. With rec == nil it returns at the first failure; with a
// recorder it records each step and goes on wherever later checks still
// mean something, so Explain can show every problem at once.
func (v *Verifier) run(ctx context.Context, p *parsed, token string, scopes []string, now time.Time, rec *recorder, mode presentation) (*Claims, *Error) {
	var first *Error
	// step records the outcome of check c and says whether to stop.
	step := func(c Check, e *Error) bool {
		if e != nil && first == nil {
			first = e
		}
		if rec == nil {
			return e != nil
		}
		rec.record(c, e, "")
		return false
	}
	skip := func(c Check, why string) {
		if rec != nil {
			rec.record(c, nil, why)
		}
	}

	if len(token) > v.cfg.MaxTokenBytes {
		e := fail(CheckSize, CodeNotAccepted, fmt.Sprintf("the token is %d bytes; at most %d are accepted", len(token), v.cfg.MaxTokenBytes), "", "")
		step(CheckSize, e)
		return nil, e
	}
	step(CheckSize, nil)

	// The header and signature are decoded into stack buffers (room for a
	// 4096-bit RSA signature); they must not be stored in p, or p would
	// escape to the heap.
	var hdrBuf [256]byte
	var sigBuf [512]byte
	sig, e := v.parse(p, token, hdrBuf[:0], sigBuf[:0])
	if e != nil {
		step(CheckFormat, e)
		return nil, e
	}
	step(CheckFormat, nil)

	algOK := true
	if e := v.checkAlg(p.hdr.alg); e != nil {
		algOK = false
		if step(CheckAlgorithm, e) {
			return nil, e
		}
	} else {
		step(CheckAlgorithm, nil)
	}
	if step(CheckType, v.checkType(&p.hdr)) {
		return nil, first
	}
	critOK := !p.hdr.hasCrit
	if !critOK {
		e := fail(CheckCrit, CodeNotAccepted, "the token marks headers as critical ("+p.hdr.crit+"); no JWS extension is supported, so it must be refused (RFC 7515 §4.1.11)", p.hdr.crit, "")
		if step(CheckCrit, e) {
			return nil, e
		}
	} else {
		step(CheckCrit, nil)
	}

	var k *key
	if algOK {
		var e *Error
		k, e = v.keys.lookup(ctx, p.hdr.kid, p.hdr.alg, now, func() *Error { return v.refusedByClaims(&p.claims, now) })
		if e != nil {
			switch e.Check {
			case CheckAlgorithm:
				// The kid exists but for another algorithm: the alg check
				// fails after all, and the key step has nothing to report.
				step(CheckAlgorithm, e)
				skip(CheckKey, "the key "+p.hdr.kid+" exists only for another algorithm")
			case CheckKey:
				step(CheckKey, e)
			default:
				// The kid is unknown, and a claim check refuses the token
				// whatever its key: that check is the verdict. Explain
				// records it below, where the claim checks run.
				skip(CheckKey, "not looked up: kid "+p.hdr.kid+" is not among the keys held, and since the "+string(e.Check)+" check refuses the token anyway, the key set was not refetched")
			}
			if rec == nil {
				return nil, e
			}
		} else {
			step(CheckKey, nil)
		}
	} else {
		skip(CheckKey, "not looked up: the algorithm is refused")
	}

	if k != nil && critOK {
		if !verifySignature(k, p.c.signingInput, sig) {
			e := fail(CheckSignature, CodeBadSignature, "the signature does not match the header and payload for key "+k.kid+" ("+k.alg+"); the token was altered or signed by another key", k.kid, "")
			if step(CheckSignature, e) {
				return nil, e
			}
		} else {
			step(CheckSignature, nil)
		}
	} else {
		skip(CheckSignature, "not checked: no usable key")
	}

	cl := &p.claims
	if step(CheckIssuer, v.checkIssuer(cl)) {
		return nil, first
	}
	if step(CheckAudience, v.checkAudience(cl)) {
		return nil, first
	}
	notBefore, notAfter, e := v.checkTimes(cl, now, step)
	if e != nil && rec == nil {
		return nil, e
	}
	if step(CheckConfirmation, v.checkConfirmation(cl, mode)) {
		return nil, first
	}
	var jkt string
	if cl.hasJKT && cl.typeErr[cCnf] == "" {
		jkt = cl.jkt
	}

	claims := &Claims{
		Issuer:       cl.iss,
		Subject:      cl.sub,
		ClientID:     cl.clientID,
		AZP:          cl.azp,
		Audience:     oauth.Audience(cl.aud),
		Scopes:       oauth.SplitScope(cl.scope),
		Expiry:       cl.exp,
		IssuedAt:     cl.iat,
		NotBefore:    cl.nbf,
		JTI:          cl.jti,
		Confirmation: Confirmation{JKT: jkt},
		Raw:          p.raw,
	}
	if first == nil && rec == nil && v.cache != nil && cl.typeErr[cScope] == "" {
		// Cached before the scope check: scopes differ per route and are
		// checked on every hit.
		v.cache.put(token, claims, k, notBefore, notAfter, now)
	}
	var se *Error
	if cl.typeErr[cScope] != "" {
		se = fail(CheckScope, CodeWrongType, cl.typeErr[cScope], "", strings.Join(scopes, " "))
	} else {
		se = checkScopes(claims.Scopes, scopes)
	}
	step(CheckScope, se)
	if first != nil {
		return claims, first
	}
	return claims, nil
}

// parse runs the format check: split, decode and parse header and
// payload, decode the signature into sigBuf and return it. hdrBuf and
// sigBuf are scratch space with capacity.
func (v *Verifier) parse(p *parsed, token string, hdrBuf, sigBuf []byte) ([]byte, *Error) {
	c, why := splitCompact(token)
	if why != "" {
		return nil, fail(CheckFormat, CodeMalformed, why, "", "")
	}
	p.c = c
	n := b64Len(len(c.header))
	var hb []byte
	if n >= 0 && n <= cap(hdrBuf) {
		hb = hdrBuf
	}
	hb, ok := decodeB64(hb, c.header)
	if !ok {
		return nil, fail(CheckFormat, CodeMalformed, "the header is not unpadded base64url", "", "")
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return nil, fail(CheckFormat, formatCode(err), "the header is not a strict JSON object: "+err.Error(), "", "")
	}
	p.hdr = h

	n = b64Len(len(c.payload))
	if n < 0 {
		return nil, fail(CheckFormat, CodeMalformed, "the payload is not unpadded base64url", "", "")
	}
	raw, ok := decodeB64(make([]byte, 0, n), c.payload)
	if !ok {
		return nil, fail(CheckFormat, CodeMalformed, "the payload is not unpadded base64url", "", "")
	}
	p.raw = raw
	if err := parseClaims(string(raw), &p.claims); err != nil {
		return nil, fail(CheckFormat, formatCode(err), "the payload is not a strict JSON object: "+err.Error(), "", "")
	}

	n = b64Len(len(c.sig))
	if n < 0 || n > cap(sigBuf) {
		return nil, fail(CheckFormat, CodeMalformed, "the signature is not unpadded base64url of at most 512 bytes", "", "")
	}
	sig, ok := decodeB64(sigBuf, c.sig)
	if !ok {
		return nil, fail(CheckFormat, CodeMalformed, "the signature is not unpadded base64url", "", "")
	}
	return sig, nil
}

// formatCode tells a repeated member name from other JSON errors.
func formatCode(err error) Code {
	if je, ok := err.(*jsonError); ok && je.dup {
		return CodeDuplicateMember
	}
	return CodeMalformed
}

func (v *Verifier) checkAlg(alg string) *Error {
	for _, a := range v.cfg.algs {
		if a == alg {
			return nil
		}
	}
	want := strings.Join(v.cfg.algs, " ")
	switch {
	case alg == "":
		return fail(CheckAlgorithm, CodeMissing, "the header has no alg", "", want)
	case strings.EqualFold(alg, "none"):
		return fail(CheckAlgorithm, CodeForbiddenAlg, `alg "none" marks an unsigned token, which is never accepted`, alg, want)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return fail(CheckAlgorithm, CodeForbiddenAlg, "alg "+alg+" is an HMAC algorithm, never accepted: keyed with the issuer's public key, anyone could forge it", alg, want)
	}
	return fail(CheckAlgorithm, CodeNotAccepted, "alg "+alg+" is not in the allowlist ("+want+")", alg, want)
}

func (v *Verifier) checkType(h *header) *Error {
	for _, t := range v.cfg.types {
		if t == "" && !h.hasTyp {
			return nil
		}
		if h.hasTyp && t != "" && sameMediaType(t, h.typ) {
			return nil
		}
	}
	want := strings.Join(v.cfg.types, " ")
	if !h.hasTyp {
		return fail(CheckType, CodeMissing, "the header has no typ; an RFC 9068 access token has typ at+jwt", "", want)
	}
	reason := "typ " + h.typ + " is not an access token type (" + want + ")"
	if strings.EqualFold(h.typ, "JWT") {
		reason += "; this looks like an ID token, which must never be used as an access token"
	}
	return fail(CheckType, CodeNotAccepted, reason, h.typ, want)
}

// sameMediaType compares typ values as RFC 7515 §4.1.9 says: media types
// are case-insensitive and "application/" may be omitted.
func sameMediaType(a, b string) bool {
	const app = "application/"
	if len(a) > len(app) && strings.EqualFold(a[:len(app)], app) {
		a = a[len(app):]
	}
	if len(b) > len(app) && strings.EqualFold(b[:len(app)], app) {
		b = b[len(app):]
	}
	return strings.EqualFold(a, b)
}

// verifySignature checks sig over signingInput with k, by k's algorithm
// only (never the token's).
func verifySignature(k *key, signingInput string, sig []byte) bool {
	switch k.alg {
	case "ES256":
		// RFC 7518 §3.4: R and S as two 32-byte big-endian integers.
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256([]byte(signingInput))
		var der [72]byte
		return ecdsa.VerifyASN1(k.pub.(*ecdsa.PublicKey), h[:], encodeDER(der[:0], sig[:32], sig[32:]))
	case "EdDSA":
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.pub.(ed25519.PublicKey), []byte(signingInput), sig)
	case "RS256":
		h := sha256.Sum256([]byte(signingInput))
		return rsa.VerifyPKCS1v15(k.pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	}
	return false
}

// encodeDER appends the ASN.1 DER ECDSA-Sig-Value (SEC 1 §C.8) for r and s,
// which ecdsa.VerifyASN1 takes; building it here avoids the big.Int
// allocations of ecdsa.Verify.
func encodeDER(dst, r, s []byte) []byte {
	r, s = trimInt(r), trimInt(s)
	lr, ls := len(r)+int(r[0]>>7), len(s)+int(s[0]>>7)
	dst = append(dst, 0x30, byte(4+lr+ls), 0x02, byte(lr))
	if r[0]&0x80 != 0 {
		dst = append(dst, 0)
	}
	dst = append(dst, r...)
	dst = append(dst, 0x02, byte(ls))
	if s[0]&0x80 != 0 {
		dst = append(dst, 0)
	}
	return append(dst, s...)
}

// trimInt drops leading zero bytes, keeping one byte for zero.
func trimInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// refusedByClaims runs the checks that need no key (iss, aud, exp, nbf,
// iat, in Verify's order) and returns the first failure. The claims are not
// verified yet, so this may only refuse: it tells that a token would be
// refused even with a good signature, never that it is good. The scope
// check is left out because a missing scope is answered with 403
// insufficient_scope (RFC 6750 §3.1), which would tell the client that its
// unverified token is otherwise valid.
func (v *Verifier) refusedByClaims(c *rawClaims, now time.Time) *Error {
	if e := v.checkIssuer(c); e != nil {
		return e
	}
	if e := v.checkAudience(c); e != nil {
		return e
	}
	_, _, e := v.checkTimes(c, now, func(_ Check, e *Error) bool { return e != nil })
	return e
}

func (v *Verifier) checkIssuer(c *rawClaims) *Error {
	switch {
	case c.typeErr[cIss] != "":
		return fail(CheckIssuer, CodeWrongType, c.typeErr[cIss], "", v.cfg.Issuer)
	case !c.has[cIss]:
		return fail(CheckIssuer, CodeMissing, "the token has no iss", "", v.cfg.Issuer)
	case c.iss != v.cfg.Issuer:
		return fail(CheckIssuer, CodeNotAccepted, "iss "+c.iss+" is not the expected issuer "+v.cfg.Issuer, c.iss, v.cfg.Issuer)
	}
	return nil
}

func (v *Verifier) checkAudience(c *rawClaims) *Error {
	want := v.cfg.Audience
	switch {
	case c.typeErr[cAud] != "":
		return fail(CheckAudience, CodeWrongType, c.typeErr[cAud], "", want)
	case !c.has[cAud]:
		return fail(CheckAudience, CodeMissing, "the token has no aud, so it is not meant for any particular API", "", want)
	case v.cfg.InsecureAnyAudience:
		return nil
	}
	// Exact first: the issuer writes canonical forms, so this is the
	// common case and costs no parsing.
	for _, a := range c.aud {
		if slices.Contains(v.cfg.audiences, a) {
			return nil
		}
	}
	for _, a := range c.aud {
		if strings.Contains(a, ":") { // a URI: only those have other spellings
			if ca, err := oauth.CanonicalResource(a); err == nil && slices.Contains(v.cfg.audiences, ca) {
				return nil
			}
		}
	}
	got := oauth.Audience(c.aud).String()
	reason := "aud [" + got + "] does not contain " + want
	for _, a := range c.aud {
		if strings.EqualFold(a, want) {
			reason += " (" + a + " differs only in case; audiences are compared exactly)"
			break
		}
	}
	return fail(CheckAudience, CodeNotAccepted, reason, got, want)
}

// checkTimes runs the exp, nbf and iat checks through step and returns the
// window in which the token is valid, for the cache.
func (v *Verifier) checkTimes(c *rawClaims, now time.Time, step func(Check, *Error) bool) (notBefore, notAfter time.Time, first *Error) {
	leeway := v.cfg.Leeway
	note := func(ch Check, e *Error) bool {
		if e != nil && first == nil {
			first = e
		}
		return step(ch, e)
	}
	var e *Error
	switch {
	case c.typeErr[cExp] != "":
		e = fail(CheckExpiry, CodeWrongType, c.typeErr[cExp], "", "")
	case !c.has[cExp]:
		e = fail(CheckExpiry, CodeMissing, "the token has no exp; access tokens must expire (RFC 9068 §2.2)", "", "")
	case v.cfg.InsecureIgnoreExpiry:
		notAfter = c.exp.Add(leeway)
	default:
		notAfter = c.exp.Add(leeway)
		if !now.Before(notAfter) {
			e = fail(CheckExpiry, CodeExpired, "the token expired at "+c.exp.UTC().Format(time.RFC3339)+" ("+now.Sub(c.exp).Round(time.Second).String()+" ago, leeway "+leeway.String()+")", c.exp.UTC().Format(time.RFC3339), "")
		}
	}
	if note(CheckExpiry, e) {
		return
	}
	e = nil
	switch {
	case c.typeErr[cNbf] != "":
		e = fail(CheckNotBefore, CodeWrongType, c.typeErr[cNbf], "", "")
	case c.has[cNbf]:
		notBefore = c.nbf.Add(-leeway)
		if now.Before(notBefore) {
			e = fail(CheckNotBefore, CodeInFuture, "the token is not valid before "+c.nbf.UTC().Format(time.RFC3339)+" (in "+c.nbf.Sub(now).Round(time.Second).String()+", leeway "+leeway.String()+")", c.nbf.UTC().Format(time.RFC3339), "")
		}
	}
	if note(CheckNotBefore, e) {
		return
	}
	e = nil
	switch {
	case c.typeErr[cIat] != "":
		e = fail(CheckIssuedAt, CodeWrongType, c.typeErr[cIat], "", "")
	case c.has[cIat]:
		if t := c.iat.Add(-leeway); t.After(notBefore) {
			notBefore = t
		}
		if now.Before(c.iat.Add(-leeway)) {
			e = fail(CheckIssuedAt, CodeInFuture, "the token was issued at "+c.iat.UTC().Format(time.RFC3339)+", "+c.iat.Sub(now).Round(time.Second).String()+" in the future (leeway "+leeway.String()+"); the issuer's or this host's clock is wrong", c.iat.UTC().Format(time.RFC3339), "")
		}
	}
	note(CheckIssuedAt, e)
	return
}

// checkScopes requires every one of required in have (RFC 6750 §3.1
// insufficient_scope when not). It must not retain required, which lives
// on the caller's stack.
func checkScopes(have, required []string) *Error {
	missing := 0
	for _, r := range required {
		if !contains(have, r) {
			missing++
		}
	}
	if missing == 0 {
		return nil
	}
	var m []string
	for _, r := range required {
		if !contains(have, r) {
			m = append(m, r)
		}
	}
	miss := strings.Join(m, " ")
	return fail(CheckScope, CodeNotAccepted, "the token lacks the required scope(s) "+miss+" (it has: "+strings.Join(have, " ")+")", miss, strings.Join(required, " "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Audience returns this API's id, the value every accepted token's aud
// contains. httpauth uses it as the default RFC 6750 realm.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// Issuer returns the issuer URL tokens must carry in iss.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }
