package grant

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/oauth"
)

// Subject is a token handed in for an RFC 8693 exchange, as the server
// verified it: one of this issuer's access tokens, unexpired and not
// revoked.
type Subject struct {
	Subject, ClientID string
	Audience          oauth.Audience
	Scopes            []string
	Expiry            time.Time
	// Act is the token's delegation chain (RFC 8693 §4.1), the latest
	// actor first; empty for a token no exchange made.
	Act []string
	// MayAct names who may act for the subject (§4.4) when HasMayAct.
	MayAct    []string
	HasMayAct bool
}

// SubjectTokens verifies a subject_token (or actor_token): it reports
// false for anything but this issuer's unexpired, unrevoked access token —
// ID tokens, refresh tokens and other issuers' tokens included.
type SubjectTokens func(ctx context.Context, token string) (*Subject, bool)

// DefaultMaxDelegationDepth bounds the act chain when Options leave it 0.
const DefaultMaxDelegationDepth = 3

// Exchange is RFC 8693 token exchange, narrow-only and audience-bound: the
// authenticated client hands in an access token that was issued for it
// (its aud names the client) and gets one for an audience it may exchange
// for (policy.Model.Exchange), for the same subject, with scopes no wider
// than the subject token's, an exp no later than it, and act naming the
// whole delegation chain (the client first, then every earlier actor; for
// a first hop, the client the person signed in at).
func (e *Engine) Exchange(ctx context.Context, c Client, req TokenRequest) (Result, *oauth.Error) {
	if oe := checkExchangeRequest(req); oe != nil {
		return Result{}, oe
	}
	if e.subjects == nil {
		return Result{}, oauth.UnsupportedGrantType("token exchange is not available")
	}
	if oe := e.model.MayExchange(c.ID); oe != nil {
		return Result{}, oe
	}
	sub, ok := e.subjects(ctx, req.SubjectToken)
	if !ok {
		return Result{}, oauth.InvalidGrant("the subject_token is not a valid, unexpired, unrevoked access token of this server")
	}
	chain, oe := e.exchangeChain(ctx, c, sub, req)
	if oe != nil {
		return Result{}, oe
	}
	g, oe := e.model.Exchange(c.ID, sub.Scopes, req.Narrow)
	if oe != nil {
		return Result{}, oe
	}
	if _, client := e.clients[sub.Subject]; !client {
		p, oe := e.person(ctx, sub.Subject, false)
		if oe != nil {
			return Result{}, oe
		}
		if g, oe = e.forPerson(c.ID, g, p, req.Narrow); oe != nil {
			return Result{}, oe
		}
	}
	access, err := e.minter.AccessToken(issue.Access{Subject: sub.Subject, ClientID: c.ID, Grant: g, Act: chain, NotAfter: sub.Expiry, JKT: req.DPoPJKT})
	if err != nil {
		return Result{}, oauth.ServerError(err)
	}
	return Result{GrantType: oauth.GrantTokenExchange, Grant: g, Access: access}, nil
}

// checkExchangeRequest checks the parameters RFC 8693 §2.1 defines.
func checkExchangeRequest(req TokenRequest) *oauth.Error {
	switch {
	case req.SubjectToken == "":
		return oauth.InvalidRequest("missing subject_token")
	case req.SubjectTokenType != oauth.TokenTypeAccessToken:
		return oauth.InvalidRequest("subject_token_type must be " + oauth.TokenTypeAccessToken +
			": Gatehouse exchanges its own access tokens only, never ID tokens or refresh tokens")
	case req.RequestedTokenType != "" && req.RequestedTokenType != oauth.TokenTypeAccessToken:
		return oauth.InvalidRequest("requested_token_type must be " + oauth.TokenTypeAccessToken)
	case (req.ActorToken == "") != (req.ActorTokenType == ""):
		return oauth.InvalidRequest("actor_token and actor_token_type go together")
	case req.ActorTokenType != "" && req.ActorTokenType != oauth.TokenTypeAccessToken:
		return oauth.InvalidRequest("actor_token_type must be " + oauth.TokenTypeAccessToken)
	}
	return nil
}

// exchangeChain checks that c may act on the subject token and returns the
// new token's delegation chain.
func (e *Engine) exchangeChain(ctx context.Context, c Client, sub *Subject, req TokenRequest) ([]string, *oauth.Error) {
	if !e.model.Names(sub.Audience, c.ID) {
		return nil, oauth.InvalidGrant("the subject_token was not issued for '" + c.ID + "' (its aud is '" + sub.Audience.String() +
			"'): a client exchanges only tokens meant for it")
	}
	if sub.HasMayAct && !slices.Contains(sub.MayAct, c.ID) {
		return nil, oauth.InvalidGrant("the subject_token's may_act does not name '" + c.ID + "'")
	}
	if req.ActorToken != "" {
		// An actor token proves the actor: here, the client itself.
		act, ok := e.subjects(ctx, req.ActorToken)
		if !ok || act.Subject != c.ID {
			return nil, oauth.InvalidGrant("the actor_token is not a valid access token of '" + c.ID + "' itself")
		}
	}
	prior := sub.Act
	if len(prior) == 0 && sub.ClientID != "" && sub.ClientID != sub.Subject {
		prior = []string{sub.ClientID} // the client the person signed in at
	}
	chain := append([]string{c.ID}, prior...)
	if len(chain) > e.maxDepth {
		return nil, oauth.InvalidRequest("the delegation chain would be " + strconv.Itoa(len(chain)) + " actors long; at most " +
			strconv.Itoa(e.maxDepth) + " are allowed (max_delegation_depth)")
	}
	return chain, nil
}
