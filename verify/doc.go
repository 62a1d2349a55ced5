// Package verify checks OAuth 2.0 access tokens in the JWT format of
// RFC 9068 for a resource server: one Verifier per API, configured with the
// issuer's URL and the API's own audience id.
//
//	v, err := verify.New(ctx, verify.Config{
//		Issuer:   "https://id.example.com",
//		Audience: "order-status-api",
//	})
//	...
//	claims, err := v.Verify(ctx, token, "orders:read")
//
// It fails closed: Issuer and Audience are required (no zero value skips
// a check), the algorithm allowlist is configuration and never includes
// "none" or HMAC, keys come only from the issuer's JWK Set (never from the
// token's jwk, jku, x5u or x5c headers), and every failure is an *Error
// naming the check, a Code for programs, the reason and the offending
// value.
//
// The hot path uses the standard library's crypto and a strict parser of
// its own for the compact JWS and its JSON (duplicate members, member names
// differing only in case, invalid UTF-8 and trailing data are refused), and
// it fetches nothing while the token's kid is known, nor for an unknown kid
// on a token that its iss, aud or validity period rules out anyway.
// Explain runs the same checks for diagnosis.
//
// DPoP (RFC 9449): a ProofChecker checks proofs, and VerifyDPoP checks a
// token bound to a key (cnf.jkt) together with its proof. Verify refuses
// bound tokens, which must never be accepted as bearer tokens.
//
// What it does not do: revocation (RFC 7662 introspection), mTLS sender
// constraints (RFC 8705: tokens bound that way are refused), replay
// detection of access tokens by jti, DPoP server nonces (which nonce is
// current is the caller's; a ProofRequest can require one), and
// extracting the token from a request (see the httpauth package); those
// remain the caller's.
package verify
