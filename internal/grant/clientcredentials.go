package grant

import (
	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// ClientCredentials is RFC 6749 §4.4 with the audience rules of
// internal/policy; sub is the client itself (RFC 9068 §2.2). The decision
// is policy.Model.ClientCredentials, the same call /admin/explain and
// `gatehouse audit --explain` make.
// A jkt binds the token to that DPoP key.
func (e *Engine) ClientCredentials(c Client, req policy.Request, jkt string) (Result, *oauth.Error) {
	g, oe := e.model.ClientCredentials(c.ID, req)
	if oe != nil {
		return Result{}, oe
	}
	m, err := e.minter.AccessToken(issue.Access{Subject: c.ID, ClientID: c.ID, Grant: g, JKT: jkt})
	if err != nil {
		return Result{}, oauth.ServerError(err)
	}
	return Result{GrantType: oauth.GrantClientCredentials, Grant: g, Access: m}, nil
}
