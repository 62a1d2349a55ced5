package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/verify"
)

// DPoP at the token endpoint (RFC 9449 §5): a request may carry a proof
// that the client holds a key; the proof is checked by package verify (the
// checker every API runs too), its jti is used once across every instance
// (the shared store), and the issued access token is bound to the key
// (cnf.jkt). Codes bound with dpop_jkt and a public client's refresh
// tokens need a proof by the same key (internal/grant).

// nonceType is the JWS type of this server's DPoP nonces.
const nonceType = "gatehouse-dpop-nonce+jwt"

const (
	// nonceLifetime is how long a nonce is accepted; nonceRenew how often
	// an instance makes a new one. A client holding a nonce up to
	// nonceLifetime-nonceRenew old is never refused for it.
	nonceLifetime = 5 * time.Minute
	nonceRenew    = time.Minute
)

// dpopAlgs are the proof algorithms accepted (and listed in discovery as
// dpop_signing_alg_values_supported): asymmetric only.
var dpopAlgs = []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}

// tokenDPoP is the token endpoint's proof checking.
type tokenDPoP struct {
	checker *verify.ProofChecker
	// htu is the token endpoint's URL as discovery publishes it.
	htu string
	// nonces is nil unless dpop.require_nonce is set.
	nonces *dpopNonces
}

// storeReplay is verify.ReplayCache over the shared store: a proof's jti
// is used once across every instance.
type storeReplay struct {
	st  store.OnceStore
	now func() time.Time
}

// UseOnce implements verify.ReplayCache.
func (r storeReplay) UseOnce(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	err := r.st.UseOnce(ctx, "dpop:"+key, expiresAt, r.now())
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

func newTokenDPoP(s *shared, requireNonce bool) (*tokenDPoP, error) {
	checker, err := verify.NewProofChecker(verify.ProofConfig{Algorithms: dpopAlgs,
		Replay: storeReplay{st: s.store, now: s.now}, Clock: s.now})
	if err != nil {
		return nil, err
	}
	d := &tokenDPoP{checker: checker, htu: s.issuer + pathToken}
	if requireNonce {
		d.nonces = &dpopNonces{s: s}
	}
	return d, nil
}

// dpopProof checks a token request's DPoP header and returns its key's
// thumbprint; "" when the request has none.
func (s *Server) dpopProof(w http.ResponseWriter, r *http.Request) (string, *oauth.Error) {
	vals := r.Header.Values("DPoP")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", oauth.InvalidDPoPProof("send exactly one DPoP header")
	}
	p, err := s.dpop.checker.Check(r.Context(), vals[0], verify.ProofRequest{Method: http.MethodPost, URL: s.dpop.htu})
	if err != nil {
		var ve *verify.Error
		switch {
		case !errors.As(err, &ve), ve.Code == verify.CodeReplayCheckFailed:
			// The store could not record the jti: fail closed, as a
			// server error rather than the client's fault.
			return "", oauth.ServerError(err)
		}
		return "", oauth.InvalidDPoPProof(ve.Description())
	}
	if n := s.dpop.nonces; n != nil && !n.valid(p.Nonce) {
		w.Header().Set("DPoP-Nonce", n.current())
		return "", oauth.UseDPoPNonce("the DPoP proof must carry the server's nonce (DPoP-Nonce)")
	}
	return p.JKT, nil
}

// dpopNonces makes and checks server nonces (RFC 9449 §8): JWSs signed by
// the key ring, so every instance accepts every instance's nonces, each
// instance making one a minute.
type dpopNonces struct {
	s *shared

	mu      sync.Mutex
	nonce   string
	made    time.Time
	checked map[string]time.Time // nonce → expiry, verified before
}

// current returns the nonce to hand out.
func (n *dpopNonces) current() string {
	now := n.s.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nonce == "" || now.Sub(n.made) >= nonceRenew {
		tok, err := n.s.signNonce(now)
		if err != nil {
			return n.nonce
		}
		n.nonce, n.made = tok, now
	}
	return n.nonce
}

// valid reports whether nonce is one of this issuer's, unexpired.
func (n *dpopNonces) valid(nonce string) bool {
	if nonce == "" {
		return false
	}
	now := n.s.now()
	n.mu.Lock()
	exp, ok := n.checked[nonce]
	n.mu.Unlock()
	if ok {
		return now.Before(exp)
	}
	v, err := n.s.own.verifiers()
	if err != nil {
		return false
	}
	c, err := v.nonce.Verify(context.Background(), nonce)
	if err != nil {
		return false
	}
	n.mu.Lock()
	if n.checked == nil || len(n.checked) >= 1024 {
		n.checked = make(map[string]time.Time)
	}
	n.checked[nonce] = c.Expiry
	n.mu.Unlock()
	return true
}

// signNonce makes a nonce that lives nonceLifetime from now.
func (s *shared) signNonce(now time.Time) (string, error) {
	return s.signOwn(nonceType, map[string]any{"iss": s.issuer, "aud": s.issuer,
		"iat": now.Unix(), "exp": now.Add(nonceLifetime).Unix()})
}

// userinfoBinding applies RFC 9449 §7 at UserInfo, a protected resource
// like any API: a bound token only with the DPoP scheme and a proof by its
// key for this request; an unbound one only as Bearer.
func (s *Server) userinfoBinding(r *http.Request, tok string, c *oauth.AccessClaims, dpop bool) *userinfoRefusal {
	refuse := func(code, desc string) *userinfoRefusal {
		return &userinfoRefusal{http.StatusUnauthorized, code, desc, true}
	}
	switch {
	case c.Cnf == nil && !dpop:
		return nil
	case c.Cnf == nil:
		return refuse("invalid_token", "the access token is not DPoP-bound: send it as Bearer")
	case !dpop:
		return refuse("invalid_token", "the access token is DPoP-bound: send it with Authorization: DPoP and a DPoP proof (RFC 9449 §7)")
	}
	vals := r.Header.Values("DPoP")
	if len(vals) != 1 {
		return refuse("invalid_dpop_proof", "send exactly one DPoP header")
	}
	p, err := s.dpop.checker.Check(r.Context(), vals[0], verify.ProofRequest{Method: r.Method, URL: s.issuer + pathUserInfo, AccessToken: tok})
	if err != nil {
		var ve *verify.Error
		if !errors.As(err, &ve) || ve.Code == verify.CodeReplayCheckFailed {
			s.log.Error("checking a DPoP proof", "error", err)
			return &userinfoRefusal{http.StatusServiceUnavailable, "temporarily_unavailable", "the proof could not be checked; try again", true}
		}
		return refuse("invalid_dpop_proof", ve.Description())
	}
	if subtle.ConstantTimeCompare([]byte(p.JKT), []byte(c.Cnf.JKT)) != 1 {
		return refuse("invalid_dpop_proof", "the proof is signed by another key than the one the access token is bound to")
	}
	return nil
}
