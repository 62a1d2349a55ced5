// Package httpauth is net/http middleware that protects a resource server
// with OAuth 2.0 bearer tokens as RFC 6750 describes, checking each token
// with a verify.Verifier.
//
//	v, err := verify.New(ctx, verify.Config{Issuer: "https://id.example.com", Audience: "order-status-api"})
//	...
//	auth := httpauth.New(v, httpauth.WithRealm("order-status-api"))
//	mux.Handle("GET /orders/{id}", auth.Require("orders:read")(showOrder))
//	mux.Handle("POST /orders", auth.Require("orders:write")(createOrder))
//
// A handler behind the middleware finds the verified claims with
// ClaimsFromContext. Refused requests never reach it; they are answered
// per RFC 6750 §3:
//
//   - no bearer token (no Authorization header, or another scheme): 401
//     with a bare challenge, WWW-Authenticate: Bearer realm="…", and no
//     error code (§3: the client may not know authentication is needed);
//   - a malformed Authorization header, or more than one: 400 with
//     error="invalid_request" (§3.1);
//   - a token the verifier refuses: 401 with error="invalid_token" and an
//     error_description naming the failed check, for an audience failure
//     exactly "The audience 'customer-portal order-status-api' is
//     invalid" (§3.1);
//   - a valid token without a required scope: 403 with
//     error="insufficient_scope" and scope="…" listing every scope the
//     route needs (§3.1).
//
// DPoP (RFC 9449): when the verifier checks proofs (verify.Config.DPoP),
// the middleware also accepts "Authorization: DPoP <token>" with one
// "DPoP: <proof>" header, for tokens bound to the proof's key. Every
// challenge then comes twice, as Bearer and as DPoP (with the accepted
// proof algorithms in algs), and a refusal's error goes on the challenge of
// the scheme the client should use (§7.1): invalid_dpop_proof (or
// use_dpop_nonce) for a bad proof, invalid_token for a bad token, and
// invalid_token on the DPoP challenge for a DPoP-bound token sent as a
// bearer token, which is never accepted. WithDPoPRequired refuses bearer
// tokens altogether; WithPublicURL names the URL clients address, for the
// proofs' htu, behind a TLS-terminating proxy.
//
// The token is taken only from the Authorization request header field
// (§2.1). The form-encoded body (§2.2) and the URI query parameter (§2.3)
// are never read: query strings end up in logs and browser histories, and
// reading a body would consume it before the handler. A request that
// carries its token only there is treated as carrying none.
//
// What it does not do: authorisation beyond scopes (what a subject or
// client may do with a resource stays the handler's decision), CORS (a
// browser's preflight OPTIONS request carries no token, so answer it in
// front of the middleware), DPoP server nonces, and everything
// verify.Verifier does not do (revocation, mTLS sender constraints).
// It never logs or returns the token; the optional decision hook
// (WithDecisionHook) receives the decision and a reason only.
package httpauth
