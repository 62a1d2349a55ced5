package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/verify"
)

// The issuer checks its own tokens with its own resource-server library:
// introspection, revocation and userinfo verify access tokens, and
// /authorize and /logout verify ID token hints, with package verify over
// the key ring's current JWKS — the same parser, allowlist and checks
// every API runs, not a second JWT path.

// ownVerifiers are the verifiers for one version of the key ring.
type ownVerifiers struct {
	jwks []byte
	// access accepts this issuer's RFC 9068 access tokens whatever their
	// aud: who may learn about a token (introspection) or use it
	// (userinfo) is decided by the caller, per request.
	access *verify.Verifier
	// idHint accepts this issuer's ID tokens, expired ones too, as
	// id_token_hint (OIDC Core §3.1.2.1, RP-Initiated Logout §2).
	idHint *verify.Verifier
	// ticket accepts this server's consent tickets (ticket.go): its own
	// type, addressed to the issuer itself.
	ticket *verify.Verifier
	// upstream accepts the state of a sign-in at an upstream provider
	// (upstream.go), likewise.
	upstream *verify.Verifier
	// nonce accepts this issuer's DPoP nonces (dpop.go), likewise.
	nonce *verify.Verifier
}

// ownTokens keeps the verifiers in step with the key ring: a ring change
// publishes a new JWKS, and the next check builds verifiers over it.
type ownTokens struct {
	keys   KeyRing
	issuer string
	now    func() time.Time
	cur    atomic.Pointer[ownVerifiers]
}

// ownLeeway is the clock skew allowed on the issuer's own tokens: none to
// speak of, since the clock that checks them is the one that minted them
// (verify takes zero to mean its default, so the least positive value).
const ownLeeway = time.Millisecond

func (o *ownTokens) verifiers() (*ownVerifiers, error) {
	jwks := o.keys.JWKS()
	if c := o.cur.Load(); c != nil && sameBytes(c.jwks, jwks) {
		return c, nil
	}
	// AcceptBoundAsBearer: the issuer reads a DPoP-bound token's claims
	// for introspection, exchange and UserInfo, each of which applies
	// the binding itself (dpop.go).
	base := verify.Config{Issuer: o.issuer, InsecureAnyAudience: true, StaticJWKS: jwks, Clock: o.now,
		Leeway: ownLeeway, MaxTokenBytes: 16 << 10, AcceptBoundAsBearer: true}
	access, err := verify.New(context.Background(), base)
	if err != nil {
		return nil, err
	}
	hint := base
	hint.Types = []string{"JWT"}
	hint.InsecureIgnoreExpiry = true
	idHint, err := verify.New(context.Background(), hint)
	if err != nil {
		return nil, err
	}
	tc := base
	tc.InsecureAnyAudience, tc.Audience = false, o.issuer
	tc.Types = []string{ticketType}
	tc.MaxTokenBytes = maxTicketBytes
	ticket, err := verify.New(context.Background(), tc)
	if err != nil {
		return nil, err
	}
	uc := tc
	uc.Types = []string{upstreamTicketType}
	up, err := verify.New(context.Background(), uc)
	if err != nil {
		return nil, err
	}
	nc := tc
	nc.Types = []string{nonceType}
	nonce, err := verify.New(context.Background(), nc)
	if err != nil {
		return nil, err
	}
	v := &ownVerifiers{jwks: jwks, access: access, idHint: idHint, ticket: ticket, upstream: up, nonce: nonce}
	o.cur.Store(v)
	return v, nil
}

// sameBytes reports whether a and b are the same slice: the ring builds
// its JWKS once per version, so identity means no change.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// parseAccessToken accepts only an unexpired RFC 9068 access token signed
// by a key of this server's ring, with this issuer. It reports false for
// anything else, never why: introspection answers reveal nothing more.
func (s *Server) parseAccessToken(tok string) (*oauth.AccessClaims, bool) {
	v, err := s.own.verifiers()
	if err != nil {
		s.log.Error("verifying own tokens: building the verifier", "error", err)
		return nil, false
	}
	c, err := v.access.Verify(context.Background(), tok)
	if err != nil {
		return nil, false
	}
	ac := &oauth.AccessClaims{Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, AZP: c.AZP,
		ClientID: c.ClientID, Scope: oauth.JoinScope(c.Scopes), IssuedAt: c.IssuedAt.Unix(),
		Expiry: c.Expiry.Unix(), JTI: c.JTI}
	if jkt := c.JKT(); jkt != "" {
		ac.Cnf = &oauth.Confirmation{JKT: jkt}
	}
	return ac, true
}

// parseIDTokenHint accepts an ID token this server signed, even expired
// (OIDC RP-Initiated Logout §2 allows that: an expired hint is still proof
// of whose session it was), and returns its claims. Its aud must be one
// client, as every ID token Gatehouse mints has.
func (s *Server) parseIDTokenHint(tok string) (sub, clientID, sid string, ok bool) {
	v, err := s.own.verifiers()
	if err != nil {
		s.log.Error("verifying own tokens: building the verifier", "error", err)
		return "", "", "", false
	}
	c, err := v.idHint.Verify(context.Background(), tok)
	if err != nil || len(c.Audience) != 1 {
		return "", "", "", false
	}
	var extra struct {
		Sid string `json:"sid"`
	}
	if c.Unmarshal(&extra) != nil {
		return "", "", "", false
	}
	return c.Subject, c.Audience[0], extra.Sid, true
}
