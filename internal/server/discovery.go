package server

import (
	"encoding/json"
	"github.com/gatehouse/gatehouse/internal/grant"
	"slices"

	"github.com/gatehouse/gatehouse/oauth"
)

// buildMetadata renders the OpenID Connect Discovery document and the RFC
// 8414 authorization server metadata once, at start: they change only with
// the configuration. Only what is implemented is advertised.
func (s *Server) buildMetadata() (oidc, as []byte, err error) {
	authMethods := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	scopes := []string{}
	for _, c := range s.cfg.Clients {
		for _, sc := range c.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	grants := []string{"authorization_code", "refresh_token", "client_credentials"}
	for _, c := range s.cfg.Clients {
		if len(c.ExchangeTo) > 0 {
			grants = append(grants, oauth.GrantTokenExchange)
			break
		}
	}
	// Fields both documents share (RFC 8414 §2, OIDC Discovery §3).
	m := map[string]any{
		"issuer":                                           s.issuer,
		"authorization_endpoint":                           s.issuer + pathAuthorize,
		"token_endpoint":                                   s.issuer + pathToken,
		"jwks_uri":                                         s.issuer + pathJWKS,
		"introspection_endpoint":                           s.issuer + pathIntrospect,
		"revocation_endpoint":                              s.issuer + pathRevoke,
		"grant_types_supported":                            grants,
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"ES256", "EdDSA", "RS256", "PS256"},
		"introspection_endpoint_auth_methods_supported":    authMethods,
		"revocation_endpoint_auth_methods_supported":       authMethods,
		"scopes_supported":                                 scopes,
		"authorization_response_iss_parameter_supported":   true,
		"dpop_signing_alg_values_supported":                dpopAlgs, // RFC 9449 §5.1
		// Gatehouse's own: where an API fetches the routes it declared
		// (gatehouse proxy discovers it here).
		oauth.DiscoveryRoutesEndpoint: s.issuer + pathRoutes,
	}
	if s.registrationTTL > 0 {
		m["registration_endpoint"] = s.issuer + pathRegister
	}
	if s.cfg.ClientMetadataDocuments != nil {
		// draft-ietf-oauth-client-id-metadata-document: a client_id may
		// be the https URL of the client's metadata document.
		m["client_id_metadata_document_supported"] = true
	}
	if as, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	// OpenID Connect only.
	m["userinfo_endpoint"] = s.issuer + pathUserInfo
	m["end_session_endpoint"] = s.issuer + pathLogout
	m["subject_types_supported"] = []string{"public"}
	// The access tokens' algorithm first, then RS256, which OIDC Core
	// §15.1 requires (clients choose with id_token_signed_response_alg).
	m["id_token_signing_alg_values_supported"] = s.cfg.IDTokenSigningAlgs()
	m["prompt_values_supported"] = []string{"none", "login", "consent", "select_account"}
	m["claims_parameter_supported"] = true
	acrs := []string{oauth.ACRPassword}
	for _, c := range s.cfg.Connectors {
		if c.OIDC != nil {
			acrs = append(acrs, oauth.ACRFederated)
			break
		}
	}
	m["acr_values_supported"] = acrs
	m["request_parameter_supported"] = false
	m["request_uri_parameter_supported"] = false
	m["claims_supported"] = claimsSupported()
	oidc, err = json.Marshal(m)
	return oidc, as, err
}

// claimsSupported lists every claim Gatehouse can release (OIDC Discovery
// §3): those of its tokens, then the user claims the scopes release
// (grant.ScopeClaims), in a fixed order.
func claimsSupported() []string {
	out := []string{"iss", "sub", "aud", "azp", "client_id", "scope", "iat", "exp", "jti",
		"auth_time", "nonce", "at_hash", "sid", "acr", "amr", "idp", "groups"}
	for _, scope := range []string{"profile", "email", "address", "phone"} {
		out = append(out, grant.ScopeClaims(scope)...)
	}
	return out
}
