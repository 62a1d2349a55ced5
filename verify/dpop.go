package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file checks DPoP proofs (RFC 9449) as a resource server receives
// them. The key material and signatures are in dpop_jwk.go, the htu
// comparison in dpop_url.go and the replay cache in dpop_replay.go.

// The checks of a DPoP proof (RFC 9449 §4.3), in the order ProofChecker
// runs them. They are not part of Checks(): Verify and Explain never run
// them; VerifyDPoP and ProofChecker.Check do. Error.DPoPError maps them
// to the error codes of RFC 9449 §7.1.
const (
	// CheckProof is the presence of exactly one proof of at most 8 KiB
	// (RFC 9449 §4.3 items 1 and 2).
	CheckProof Check = "dpop"
	// CheckProofFormat is the compact JWS of the proof (RFC 9449 §4.2):
	// three strict base64url parts, strict JSON header and payload, no
	// crit header.
	CheckProofFormat Check = "dpop_format"
	// CheckProofType is the header typ, exactly "dpop+jwt" (§4.2).
	CheckProofType Check = "dpop_typ"
	// CheckProofAlgorithm is the header alg: asymmetric and in
	// ProofConfig.Algorithms, never "none" or HMAC (§4.3 item 5).
	CheckProofAlgorithm Check = "dpop_alg"
	// CheckProofKey is the header jwk: present, a public key only (§4.3
	// item 7), of the type and size alg requires.
	CheckProofKey Check = "dpop_jwk"
	// CheckProofJTI is the jti claim: a non-empty string of at most 256
	// bytes (§4.2).
	CheckProofJTI Check = "dpop_jti"
	// CheckProofMethod is htm, equal to the request's method (§4.3 item 8).
	CheckProofMethod Check = "dpop_htm"
	// CheckProofURL is htu, equal to the request's URI without query and
	// fragment after normalisation (§4.3 item 9).
	CheckProofURL Check = "dpop_htu"
	// CheckProofTime is iat, within the acceptance window (§4.3 item 11).
	CheckProofTime Check = "dpop_iat"
	// CheckProofATH is ath, the hash of the access token presented with the
	// proof (§4.3 item 12, §7).
	CheckProofATH Check = "dpop_ath"
	// CheckProofNonce is the nonce claim, when the server requires one
	// (§4.3 item 10, §9). Its failures map to use_dpop_nonce.
	CheckProofNonce Check = "dpop_nonce"
	// CheckProofSignature is the proof's signature with its own jwk (§4.3
	// item 6).
	CheckProofSignature Check = "dpop_signature"
	// CheckProofReplay refuses a jti already used by the same key within
	// the window (§11.1).
	CheckProofReplay Check = "dpop_replay"
	// CheckProofBinding requires the proof's key to be the one the access
	// token is bound to: its RFC 7638 thumbprint equals the token's
	// cnf.jkt (§4.3 item 12, §6.1).
	CheckProofBinding Check = "dpop_binding"
)

// Codes used by the DPoP checks only; the DPoP checks use the general
// codes (CodeMissing, CodeMalformed, ...) too.
const (
	// CodePrivateKey: the proof's jwk holds private key material (d, p,
	// q, dp, dq, qi, oth or k), or is a symmetric key (CheckProofKey).
	CodePrivateKey Code = "private_key"
	// CodeReplayed: the proof's jti was seen before (CheckProofReplay).
	CodeReplayed Code = "replayed"
	// CodeReplayCheckFailed: the replay cache could not record the jti
	// (it is full or unreachable); the proof is refused since it cannot be
	// shown to be fresh. Error.Err holds the cause (CheckProofReplay).
	CodeReplayCheckFailed Code = "replay_check_failed"
	// CodeUnbound: a token bound to no key was presented where a bound one
	// is needed: with a DPoP proof, or to a Verifier with RequireDPoP
	// (CheckConfirmation).
	CodeUnbound Code = "unbound"
	// CodeBoundAsBearer: a token bound to a DPoP key was presented as a
	// bearer token (CheckConfirmation, RFC 9449 §7.1).
	CodeBoundAsBearer Code = "bound_as_bearer"
)

// The error codes of RFC 9449 §7.1, returned by Error.DPoPError.
const (
	DPoPInvalidProof = "invalid_dpop_proof"
	DPoPUseNonce     = "use_dpop_nonce"
)

// DPoPError returns the RFC 9449 §7.1 error code for a failed proof check:
// "use_dpop_nonce" when the proof lacks the nonce the server requires,
// "invalid_dpop_proof" for every other proof check, and "" when the error
// is about the access token (answer invalid_token, RFC 6750 §3.1).
func (e *Error) DPoPError() string {
	switch e.Check {
	case CheckProofNonce:
		return DPoPUseNonce
	case CheckProof, CheckProofFormat, CheckProofType, CheckProofAlgorithm,
		CheckProofKey, CheckProofJTI, CheckProofMethod, CheckProofURL,
		CheckProofTime, CheckProofATH, CheckProofSignature, CheckProofReplay,
		CheckProofBinding:
		return DPoPInvalidProof
	}
	return ""
}

// Limits on proofs, fixed because RFC 9449 leaves no room for larger ones:
// a proof with an 8192-bit RSA key is under 3 KiB.
const (
	// MaxProofBytes bounds the proof, refused before any parsing.
	MaxProofBytes = 8 << 10
	// maxJTIBytes bounds jti, which becomes part of a replay-cache key.
	maxJTIBytes = 256
)

// Defaults of ProofConfig.
const (
	DefaultProofWindow = 60 * time.Second
	DefaultProofLeeway = 5 * time.Second
)

// proofAlgs are the algorithms ProofChecker implements, and its default
// allowlist.
var proofAlgs = [...]string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}

// ProofConfig configures a ProofChecker.
type ProofConfig struct {
	// Algorithms is the allowlist of proof algorithms, which the DPoP
	// challenge advertises (RFC 9449 §7.1 algs). Default, and the only
	// ones supported: ES256, ES384, EdDSA (Ed25519), RS256, PS256. "none"
	// and HMAC can never be enabled: a proof must be signed by a private
	// key the client alone holds.
	Algorithms []string
	// Window is how old a proof may be: its iat at most Window before now
	// (RFC 9449 §11.1). It is also how long a jti is remembered, so a
	// longer window costs replay-cache memory. Default 60 s; at most
	// 10 minutes.
	Window time.Duration
	// Leeway is how far in the future iat may be, for clients whose clock
	// runs a little ahead. Default 5 s; at most Window. Clients with badly
	// wrong clocks need server nonces (RFC 9449 §8, §9), which a
	// ProofRequest can require.
	Leeway time.Duration
	// Replay records every accepted proof's jti until it can no longer be
	// accepted anyway (iat + Window), so a captured proof cannot be sent
	// again. Required. Behind a load balancer, instances must share it
	// (NewMemoryReplayCache is for a single instance).
	Replay ReplayCache
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
}

// ReplayCache records single-use values (DPoP proof jtis, keyed per client
// key) for a limited time. Implementations must be safe for concurrent use
// and atomic: of two concurrent UseOnce calls with the same key, at most
// one may report first.
type ReplayCache interface {
	// UseOnce records key until expiresAt and reports whether it was not
	// recorded before (or only with an expiry now passed). An error means
	// the use could not be recorded; the caller must then refuse.
	UseOnce(ctx context.Context, key string, expiresAt time.Time) (first bool, err error)
}

// ProofChecker checks DPoP proofs (RFC 9449 §4.3) for a resource server.
// It is safe for concurrent use; create one per API (it holds the replay
// cache) and share it.
//
// It establishes that the proof was signed by the private key of the
// public key it carries, recently, once, for this method and URI, and
// (with ProofRequest.AccessToken) for this access token. It does not
// establish who the client is: that the key is the one the access token
// is bound to is Verifier.VerifyDPoP's check (cnf.jkt), and a proof
// checked alone binds nothing.
type ProofChecker struct {
	algs   []string
	window time.Duration
	leeway time.Duration
	replay ReplayCache
	clock  func() time.Time
}

// NewProofChecker validates cfg and returns a checker. It fails without a
// replay cache: a proof that can be replayed proves nothing.
func NewProofChecker(cfg ProofConfig) (*ProofChecker, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := &ProofChecker{window: cfg.Window, leeway: cfg.Leeway, replay: cfg.Replay, clock: cfg.Clock}
	if cfg.Replay == nil {
		bad("Replay is required: without it a captured proof could be sent again within its window")
	}
	if len(cfg.Algorithms) == 0 {
		c.algs = proofAlgs[:]
	}
	for _, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			bad(`algorithm "none" can never be enabled for DPoP proofs`)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			bad("algorithm %q can never be enabled: DPoP proofs are signed with the client's private key (RFC 9449 §4.2)", a)
		case !slices.Contains(proofAlgs[:], a):
			bad("algorithm %q is not supported (supported: %s)", a, strings.Join(proofAlgs[:], ", "))
		case slices.Contains(c.algs, a):
		default:
			c.algs = append(c.algs, a)
		}
	}
	switch {
	case cfg.Window == 0:
		c.window = DefaultProofWindow
	case cfg.Window < 0 || cfg.Window > 10*time.Minute:
		bad("Window %v is outside 0 to 10m", cfg.Window)
	}
	switch {
	case cfg.Leeway == 0:
		c.leeway = min(DefaultProofLeeway, c.window)
	case cfg.Leeway < 0 || cfg.Leeway > c.window:
		bad("Leeway %v is outside 0 to Window (%v)", cfg.Leeway, c.window)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify: invalid DPoP config: %w", err)
	}
	return c, nil
}

// Algorithms returns the accepted proof algorithms, for the algs parameter
// of a DPoP challenge (RFC 9449 §7.1).
func (c *ProofChecker) Algorithms() []string { return slices.Clone(c.algs) }

// ProofRequest is what a proof must match: the request it came with.
type ProofRequest struct {
	// Method is the request's method; htm must equal it exactly (method
	// names are case-sensitive, RFC 9110 §9.1).
	Method string
	// URL is the request's target URI as the client addressed it:
	// scheme://host[:port]/path. Any query or fragment is ignored. Behind
	// a TLS-terminating proxy it must be the public URL, not the one the
	// proxy forwarded to. It and htu are compared after the normalisations
	// of RFC 3986 §6.2.2 and §6.2.3 (case of scheme and host, default
	// port, percent-encoding, dot segments); an htu with a query or
	// fragment is refused (RFC 9449 §4.2 defines htu without them).
	URL string
	// AccessToken, when not empty, is the access token the proof comes
	// with: the proof must carry ath, base64url(SHA-256(AccessToken))
	// (RFC 9449 §4.3 item 12). Empty for proofs without a token.
	AccessToken string
	// Nonce, when not empty, is the server nonce the proof must carry
	// (RFC 9449 §9); a proof without it, or with another, fails with
	// CheckProofNonce (use_dpop_nonce). Which nonces are current is the
	// caller's business.
	Nonce string
}

// Proof is a checked DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: the value of cnf.jkt in tokens bound to it (RFC 9449
	// §6.1).
	JKT string
	// JTI is the proof's jti; it has been recorded in the replay cache.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Algorithm is the proof's alg.
	Algorithm string
	// Method and URL are htm and htu as the proof carries them.
	Method, URL string
	// Nonce is the proof's nonce claim, "" without one: a server whose
	// nonces are not one fixed value (several instances, rotation) checks
	// it itself rather than through ProofRequest.Nonce.
	Nonce string
	// Key is the proof's public key: *ecdsa.PublicKey, ed25519.PublicKey
	// or *rsa.PublicKey.
	Key crypto.PublicKey
}

// Check checks proof, the value of the request's one DPoP header, against
// req and returns it, or an *Error naming the first check that failed.
// The checks, in order (cheap ones first, so garbage costs no signature
// verification; the replay cache last, so only proofs with a valid
// signature can use up a jti):
//
//  1. CheckProof: not empty, at most MaxProofBytes, one value (no commas
//     or spaces, which is how several headers come combined);
//  2. CheckProofFormat: compact JWS, strict base64url and JSON (duplicate
//     members refused), no crit;
//  3. CheckProofType: typ is exactly dpop+jwt;
//  4. CheckProofAlgorithm: alg in the allowlist;
//  5. CheckProofKey: jwk present, public, of alg's type and size (P-256
//     for ES256, P-384 for ES384, Ed25519 for EdDSA, RSA of 2048 to 8192
//     bits for RS256 and PS256), its alg member, if any, equal to alg;
//  6. CheckProofJTI, CheckProofMethod, CheckProofURL, CheckProofTime: jti,
//     htm, htu and iat present and matching (iat at most Window old and
//     Leeway ahead);
//  7. CheckProofATH: with req.AccessToken, ath matches it;
//  8. CheckProofNonce: with req.Nonce, the nonce claim equals it;
//  9. CheckProofSignature: the signature verifies with the jwk;
//  10. CheckProofReplay: the pair (thumbprint, jti) is new, and is
//     remembered until iat + Window.
//
// It does not check that the key belongs to anyone: see ProofChecker.
func (c *ProofChecker) Check(ctx context.Context, proof string, req ProofRequest) (*Proof, error) {
	p, e := c.check(ctx, proof, &req)
	if e != nil {
		return nil, e
	}
	return p, nil
}

// check returns *Error rather than error so callers inside the package
// keep the type without an assertion.
func (c *ProofChecker) check(ctx context.Context, proof string, req *ProofRequest) (*Proof, *Error) {
	switch {
	case proof == "":
		return nil, fail(CheckProof, CodeMissing, "the DPoP proof is empty", "", "")
	case len(proof) > MaxProofBytes:
		return nil, fail(CheckProof, CodeNotAccepted, fmt.Sprintf("the DPoP proof is %d bytes; at most %d are accepted", len(proof), MaxProofBytes), "", "")
	case strings.ContainsAny(proof, ", \t"):
		return nil, fail(CheckProof, CodeMalformed, "the DPoP header holds more than one value; exactly one proof is accepted (RFC 9449 §4.3)", "", "")
	}
	cp, why := splitCompact(proof)
	if why != "" {
		return nil, fail(CheckProofFormat, CodeMalformed, why, "", "")
	}

	// The header holds the jwk: room for an EC or Ed25519 key on the stack;
	// RSA keys take the heap.
	var hdrBuf [384]byte
	var hb []byte
	if n := b64Len(len(cp.header)); n >= 0 && n <= cap(hdrBuf) {
		hb = hdrBuf[:0]
	}
	hb, ok := decodeB64(hb, cp.header)
	if !ok {
		return nil, fail(CheckProofFormat, CodeMalformed, "the proof header is not unpadded base64url", "", "")
	}
	var h proofHeader
	if err := parseProofHeader(string(hb), &h); err != nil {
		return nil, fail(CheckProofFormat, formatCode(err), "the proof header is not a strict JSON object: "+err.Error(), "", "")
	}
	if h.hasCrit {
		return nil, fail(CheckProofFormat, CodeNotAccepted, "the proof marks headers as critical; no JWS extension is supported (RFC 7515 §4.1.11)", "", "")
	}
	switch {
	case !h.hasTyp:
		return nil, fail(CheckProofType, CodeMissing, "the proof header has no typ; a DPoP proof has typ dpop+jwt", "", "dpop+jwt")
	case h.typErr:
		return nil, fail(CheckProofType, CodeWrongType, "the proof's typ is not a string", "", "dpop+jwt")
	case h.typ != "dpop+jwt":
		return nil, fail(CheckProofType, CodeNotAccepted, "typ "+h.typ+" is not dpop+jwt", h.typ, "dpop+jwt")
	}
	if e := c.checkAlg(&h); e != nil {
		return nil, e
	}
	k, e := proofKey(&h)
	if e != nil {
		return nil, e
	}

	n := b64Len(len(cp.payload))
	var payBuf [512]byte
	var pb []byte
	if n >= 0 && n <= cap(payBuf) {
		pb = payBuf[:0]
	}
	pb, ok = decodeB64(pb, cp.payload)
	if !ok {
		return nil, fail(CheckProofFormat, CodeMalformed, "the proof payload is not unpadded base64url", "", "")
	}
	var cl proofClaims
	if err := parseProofClaims(string(pb), &cl); err != nil {
		return nil, fail(CheckProofFormat, formatCode(err), "the proof payload is not a strict JSON object: "+err.Error(), "", "")
	}
	now := c.clock()
	if e := c.checkClaims(&cl, req, now); e != nil {
		return nil, e
	}

	var sigBuf [1024]byte
	n = b64Len(len(cp.sig))
	if n < 0 || n > cap(sigBuf) {
		return nil, fail(CheckProofFormat, CodeMalformed, "the proof signature is not unpadded base64url of at most 1024 bytes", "", "")
	}
	sig, ok := decodeB64(sigBuf[:0], cp.sig)
	if !ok {
		return nil, fail(CheckProofFormat, CodeMalformed, "the proof signature is not unpadded base64url", "", "")
	}
	if !verifyProofSignature(h.alg, k, cp.signingInput, sig) {
		return nil, fail(CheckProofSignature, CodeBadSignature, "the proof's signature does not verify with its jwk ("+h.alg+")", "", "")
	}

	jkt := h.jwk.thumbprint()
	// The jkt in the key keeps one client's jtis from colliding with
	// another's, and an attacker without the key from using up a client's.
	key := jkt + "." + cl.jti
	first, err := c.replay.UseOnce(ctx, key, cl.iat.Add(c.window))
	if err != nil {
		e := fail(CheckProofReplay, CodeReplayCheckFailed, "the proof's jti could not be recorded, so its freshness is unknown", "", "")
		e.Err = err
		return nil, e
	}
	if !first {
		return nil, fail(CheckProofReplay, CodeReplayed, "the proof's jti was used before by the same key; every request needs a new proof (RFC 9449 §11.1)", cl.jti, "")
	}
	return &Proof{
		JKT:       jkt,
		JTI:       strings.Clone(cl.jti),
		IssuedAt:  cl.iat,
		Algorithm: h.alg,
		Method:    strings.Clone(cl.htm),
		URL:       strings.Clone(cl.htu),
		Nonce:     strings.Clone(cl.nonce),
		Key:       k,
	}, nil
}

func (c *ProofChecker) checkAlg(h *proofHeader) *Error {
	alg := h.alg
	want := strings.Join(c.algs, " ")
	switch {
	case h.algErr:
		return fail(CheckProofAlgorithm, CodeWrongType, "the proof's alg is not a string", "", want)
	case slices.Contains(c.algs, alg):
		return nil
	case alg == "":
		return fail(CheckProofAlgorithm, CodeMissing, "the proof header has no alg", "", want)
	case strings.EqualFold(alg, "none"):
		return fail(CheckProofAlgorithm, CodeForbiddenAlg, `alg "none" marks an unsigned proof, which is never accepted`, alg, want)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return fail(CheckProofAlgorithm, CodeForbiddenAlg, "alg "+alg+" is symmetric; a DPoP proof must be signed with a private key (RFC 9449 §4.2)", alg, want)
	}
	return fail(CheckProofAlgorithm, CodeNotAccepted, "alg "+alg+" is not in the allowlist ("+want+")", alg, want)
}

// checkClaims runs the claim checks that need no signature: they are
// cheap, and a proof failing them is refused whoever signed it.
func (c *ProofChecker) checkClaims(cl *proofClaims, req *ProofRequest, now time.Time) *Error {
	switch {
	case cl.typeErr[pJTI]:
		return fail(CheckProofJTI, CodeWrongType, "the proof's jti is not a string", "", "")
	case cl.jti == "":
		return fail(CheckProofJTI, CodeMissing, "the proof has no jti (or an empty one)", "", "")
	case len(cl.jti) > maxJTIBytes:
		return fail(CheckProofJTI, CodeNotAccepted, fmt.Sprintf("the proof's jti is %d bytes; at most %d are accepted", len(cl.jti), maxJTIBytes), "", "")
	}
	switch {
	case cl.typeErr[pHTM]:
		return fail(CheckProofMethod, CodeWrongType, "the proof's htm is not a string", "", req.Method)
	case !cl.has[pHTM]:
		return fail(CheckProofMethod, CodeMissing, "the proof has no htm", "", req.Method)
	case cl.htm != req.Method:
		return fail(CheckProofMethod, CodeNotAccepted, "the proof is for method "+cl.htm+", not "+req.Method, cl.htm, req.Method)
	}
	if e := checkHTU(cl, req.URL); e != nil {
		return e
	}
	switch {
	case cl.typeErr[pIAT]:
		return fail(CheckProofTime, CodeWrongType, "the proof's iat is not a NumericDate", "", "")
	case !cl.has[pIAT]:
		return fail(CheckProofTime, CodeMissing, "the proof has no iat", "", "")
	case now.Sub(cl.iat) >= c.window:
		// At exactly the window's end the replay entry would expire as it
		// is made, so that instant is refused too.
		return fail(CheckProofTime, CodeExpired, "the proof was made at "+cl.iat.UTC().Format(time.RFC3339)+", "+now.Sub(cl.iat).Round(time.Second).String()+" ago; at most "+c.window.String()+" is accepted", cl.iat.UTC().Format(time.RFC3339), "")
	case cl.iat.Sub(now) > c.leeway:
		return fail(CheckProofTime, CodeInFuture, "the proof was made at "+cl.iat.UTC().Format(time.RFC3339)+", "+cl.iat.Sub(now).Round(time.Second).String()+" in the future (leeway "+c.leeway.String()+"); the client's clock is wrong", cl.iat.UTC().Format(time.RFC3339), "")
	}
	if req.AccessToken != "" {
		switch {
		case cl.typeErr[pATH]:
			return fail(CheckProofATH, CodeWrongType, "the proof's ath is not a string", "", "")
		case !cl.has[pATH]:
			return fail(CheckProofATH, CodeMissing, "the proof has no ath, but it comes with an access token (RFC 9449 §4.2)", "", "")
		}
		sum := sha256.Sum256([]byte(req.AccessToken))
		var want [43]byte
		base64.RawURLEncoding.Encode(want[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(cl.ath), want[:]) != 1 {
			return fail(CheckProofATH, CodeNotAccepted, "the proof's ath is not the hash of the access token it comes with", "", "")
		}
	}
	if req.Nonce != "" {
		switch {
		case cl.typeErr[pNonce]:
			return fail(CheckProofNonce, CodeWrongType, "the proof's nonce is not a string", "", "")
		case !cl.has[pNonce]:
			return fail(CheckProofNonce, CodeMissing, "the proof has no nonce; this server requires one (RFC 9449 §9)", "", "")
		case subtle.ConstantTimeCompare([]byte(cl.nonce), []byte(req.Nonce)) != 1:
			return fail(CheckProofNonce, CodeNotAccepted, "the proof's nonce is not the current one", "", "")
		}
	}
	return nil
}

func checkHTU(cl *proofClaims, reqURL string) *Error {
	switch {
	case cl.typeErr[pHTU]:
		return fail(CheckProofURL, CodeWrongType, "the proof's htu is not a string", "", reqURL)
	case !cl.has[pHTU]:
		return fail(CheckProofURL, CodeMissing, "the proof has no htu", "", reqURL)
	}
	got, why := normalizeHTU(cl.htu, false)
	if why != "" {
		return fail(CheckProofURL, CodeMalformed, "the proof's htu "+why, cl.htu, reqURL)
	}
	want, why := normalizeHTU(reqURL, true)
	if why != "" {
		// The caller's URL: a configuration problem, but still a refusal.
		return fail(CheckProofURL, CodeNotAccepted, "the request URL "+why, cl.htu, reqURL)
	}
	if got != want {
		return fail(CheckProofURL, CodeNotAccepted, "the proof is for "+cl.htu+", not "+want, cl.htu, want)
	}
	return nil
}

// proofHeader is the part of a proof's JOSE header the checker acts on.
type proofHeader struct {
	alg, typ        string
	algErr, typErr  bool
	hasTyp, hasCrit bool
	hasJWK          bool
	jwk             proofJWK
}

func parseProofHeader(js string, h *proofHeader) error {
	s := scanner{s: js}
	err := s.object(func(name string) error {
		switch name {
		case "alg":
			return readString(&s, &h.alg, &h.algErr)
		case "typ":
			h.hasTyp = true
			return readString(&s, &h.typ, &h.typErr)
		case "crit":
			h.hasCrit = true
		case "jwk":
			h.hasJWK = true
			if s.peek() != '{' {
				h.jwk.bad = "jwk is not a JSON object"
				return s.skip()
			}
			return readProofJWK(&s, &h.jwk)
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}

// readString reads a string member into dst, or records a wrong type in
// bad and skips the value.
func readString(s *scanner, dst *string, bad *bool) error {
	if !s.isString() {
		*bad = true
		return s.skip()
	}
	v, err := s.str()
	*dst = v
	return err
}

// Proof claim indexes.
const (
	pJTI = iota
	pHTM
	pHTU
	pIAT
	pATH
	pNonce
	nProofClaims
)

// proofClaims is a proof's payload (RFC 9449 §4.2).
type proofClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       time.Time
	has                       [nProofClaims]bool
	typeErr                   [nProofClaims]bool
}

func parseProofClaims(js string, c *proofClaims) error {
	s := scanner{s: js}
	str := func(i int, dst *string) error {
		c.has[i] = true
		return readString(&s, dst, &c.typeErr[i])
	}
	err := s.object(func(name string) error {
		switch name {
		case "jti":
			return str(pJTI, &c.jti)
		case "htm":
			return str(pHTM, &c.htm)
		case "htu":
			return str(pHTU, &c.htu)
		case "ath":
			return str(pATH, &c.ath)
		case "nonce":
			return str(pNonce, &c.nonce)
		case "iat":
			c.has[pIAT] = true
			start := s.pos
			sec, nsec, err := s.numericDate()
			if err == errWrongType {
				c.typeErr[pIAT] = true
				s.pos = start
				return s.skip()
			}
			c.iat = time.Unix(sec, nsec)
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}
