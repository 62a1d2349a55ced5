package grant

import (
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
)

// mintUserTokens signs the access token, the ID token when openid was
// granted, and prepares a refresh family when offline_access was granted
// to a client allowed the refresh_token grant. Nothing is stored here: the
// caller commits it in one transaction with the code's redemption.
func (e *Engine) mintUserTokens(c Client, g policy.Grant, fam store.RefreshFamily, p Person, nonce string, requested []string, jkt string, now time.Time) (Result, store.Issued, *oauth.Error) {
	access, err := e.minter.AccessToken(issue.Access{Subject: fam.Subject, ClientID: c.ID, Grant: g, Groups: GroupsClaim(&c, p.Groups), JKT: jkt})
	if err != nil {
		return Result{}, store.Issued{}, oauth.ServerError(err)
	}
	res := Result{GrantType: oauth.GrantAuthorizationCode, Grant: g, Access: access}
	issued := store.Issued{AccessJTI: access.JTI, AccessExpiresAt: access.ExpiresAt}
	if slices.Contains(g.Scopes, "openid") {
		if res.IDToken, err = e.idToken(c, idTokenFor{person: p, nonce: nonce, sessionID: fam.SessionID,
			authTime: fam.AuthTime, amr: fam.AMR, scopes: g.Scopes, requested: requested, accessToken: access.Token}); err != nil {
			return Result{}, store.Issued{}, oauth.ServerError(err)
		}
	}
	if slices.Contains(fam.Scopes, "offline_access") && e.model.MayUseGrant(c.ID, oauth.GrantRefreshToken) {
		token, hash, err := issue.NewOpaque()
		if err != nil {
			return Result{}, store.Issued{}, oauth.ServerError(err)
		}
		_, famID, err := issue.NewOpaque()
		if err != nil {
			return Result{}, store.Issued{}, oauth.ServerError(err)
		}
		fam.ID = famID[:32]
		fam.CreatedAt = now
		fam.ExpiresAt = now.Add(e.refreshTTL)
		issued.FamilyID = fam.ID
		issued.Family = &fam
		issued.Refresh = &store.RefreshToken{Hash: hash, FamilyID: fam.ID, CreatedAt: now, ExpiresAt: fam.ExpiresAt}
		res.Refresh = token
	}
	return res, issued, nil
}

// idTokenFor describes one ID token of a user grant.
type idTokenFor struct {
	person           Person
	nonce, sessionID string
	authTime         time.Time
	// amr are the sign-in's authentication methods (RFC 8176).
	amr    []string
	scopes []string
	// requested are the claims the claims parameter asked for in the ID
	// token (OIDC Core §5.5); empty on refresh.
	requested   []string
	accessToken string
}

// idToken mints an ID token. User claims released by the granted scopes
// go into it only when the claims parameter asked for them or the client
// is configured with id_token_scope_claims; otherwise they come from
// UserInfo alone, as OIDC Core §5.4 says when an access token is issued.
// acr says whether the person typed a password here (a local user or a
// directory) or was vouched for by an upstream provider; idp names the
// source ("local" for a local user).
func (e *Engine) idToken(c Client, t idTokenFor) (string, error) {
	claims := map[string]any{}
	for name, v := range ReleasedClaims(t.person.Claims, t.scopes) {
		if c.IDTokenScopeClaims || slices.Contains(t.requested, name) {
			claims[name] = v
		}
	}
	if groups := GroupsClaim(&c, t.person.Groups); groups != nil {
		claims["groups"] = groups
	}
	acr, idp, amr := oauth.ACRPassword, "local", t.amr
	if t.person.Source != "" {
		idp = t.person.Source
	}
	if t.person.Federated {
		// The upstream's amr, if it sent one, says how it authenticated
		// the person; Gatehouse itself checked no password.
		acr = oauth.ACRFederated
	} else if len(amr) == 0 {
		amr = passwordAMR // codes and grants from before amr was recorded
	}
	claims["idp"] = idp
	m, err := e.minter.IDToken(issue.Identity{Subject: t.person.Subject, ClientID: c.ID, Nonce: t.nonce,
		SessionID: store.SID(t.sessionID), AuthTime: t.authTime, AccessToken: t.accessToken, Claims: claims,
		Alg: c.IDTokenAlg, ACR: acr, AMR: amr})
	return m.Token, err
}

// passwordAMR is the RFC 8176 amr of a sign-in with a password.
var passwordAMR = []string{"pwd"}
