package server

import (
	"encoding/json"
	"slices"
)

// buildMetadata renders the OpenID Connect Discovery document and the RFC
// 8414 authorization server metadata once, at start: they change only with
// the configuration. Only what is implemented is advertised.
func (s *Server) buildMetadata() (oidc, as []byte, err error) {
	algs := []string{s.cfg.SigningAlg}
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	grants := []string{"client_credentials"}
	scopes := []string{}
	for _, c := range s.cfg.Clients {
		for _, sc := range c.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	m := map[string]any{
		"issuer":                                s.issuer,
		"token_endpoint":                        s.issuer + pathToken,
		"jwks_uri":                              s.issuer + pathJWKS,
		"introspection_endpoint":                s.issuer + pathIntrospect,
		"grant_types_supported":                 grants,
		"token_endpoint_auth_methods_supported": authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods,
		"scopes_supported":                      scopes,
		"response_types_supported":              []string{},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		// RFC 9068 access tokens are signed with the same key ring.
		"token_endpoint_auth_signing_alg_values_supported": nil,
		"claims_supported": []string{"iss", "sub", "aud", "azp", "client_id", "scope", "iat", "exp", "jti"},
	}
	delete(m, "token_endpoint_auth_signing_alg_values_supported")
	if oidc, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	// RFC 8414 has no subject types or ID token fields.
	delete(m, "subject_types_supported")
	delete(m, "id_token_signing_alg_values_supported")
	delete(m, "claims_supported")
	as, err = json.Marshal(m)
	return oidc, as, err
}
