package oauth

// Grant types of RFC 6749 §4.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantTokenExchange is RFC 8693 §2.1's grant type.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// TokenTypeAccessToken is RFC 8693 §3's identifier of an access token, the
// one subject_token_type and issued_token_type Gatehouse takes and gives.
const TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"

// Client authentication methods of RFC 8414 / OIDC Discovery.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthNone              = "none"
	AuthPrivateKeyJWT     = "private_key_jwt"
)

// TokenTypeAccessJWT is the JWT "typ" header of RFC 9068 access tokens.
const TokenTypeAccessJWT = "at+jwt"

// TokenResponse is the successful token endpoint body of RFC 6749 §5.1.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	// IssuedTokenType is RFC 8693 §2.2.1's, for a token exchange.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// Introspection is the RFC 7662 §2.2 response. An inactive token is
// answered with Active false and nothing else (InactiveIntrospection).
type Introspection struct {
	Active bool `json:"active"`
	// TokenType is "Bearer" for an access token, "refresh_token" for a
	// refresh token.
	TokenType string   `json:"token_type,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  Audience `json:"aud,omitempty"`
	AZP       string   `json:"azp,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	// Cnf is the key a DPoP-bound token is bound to (RFC 9449 §6.2; then
	// TokenType is "DPoP").
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf claim (RFC 7800) as RFC 9449 §6.1 uses it: the
// RFC 7638 SHA-256 thumbprint of the key a token is bound to.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// InactiveIntrospection is the whole answer for any token the caller may
// not learn about: RFC 7662 §2.2 lets the server say nothing more.
var InactiveIntrospection = Introspection{}

// AccessClaims are the claims of an RFC 9068 access token as Gatehouse
// issues them.
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	AZP       string   `json:"azp,omitempty"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	Expiry    int64    `json:"exp"`
	JTI       string   `json:"jti"`
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1); nil when unbound.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// RouteSet is the body of Gatehouse's routes endpoint (discovery:
// gatehouse_routes_endpoint): the routes one API declared in the
// configuration and the scopes each needs, which `gatehouse proxy`
// enforces.
type RouteSet struct {
	// API is the client id of the API the routes belong to.
	API string `json:"api"`
	// Routes are in configuration order; never null.
	Routes []Route `json:"routes"`
}

// Route is one route of a RouteSet.
type Route struct {
	// Path is a net/http ServeMux pattern path (no method, no host).
	Path string `json:"path"`
	// Methods are upper-case HTTP methods; empty means every method.
	Methods []string `json:"methods"`
	// Scopes are all required of the token; empty means none.
	Scopes []string `json:"scopes"`
}

// DiscoveryRoutesEndpoint is the discovery metadata field naming the
// routes endpoint.
const DiscoveryRoutesEndpoint = "gatehouse_routes_endpoint"
