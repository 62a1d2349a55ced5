// Package config loads and validates the Gatehouse configuration file: the
// source of truth for clients, audiences, scopes and users.
//
// Decoding is strict (unknown keys are errors), only the ${NAME} form is
// expanded from the environment, and validation reports every problem at
// once with its file:line and a hint.
package config

import "time"

// Defaults applied by Load when a field is absent.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultStorage           = "sqlite:gatehouse.db"
	DefaultSigningAlg        = "ES256"
	DefaultAccessTokenTTL    = 10 * time.Minute
	DefaultRefreshTokenTTL   = 30 * 24 * time.Hour
	DefaultKeyRotationPeriod = 30 * 24 * time.Hour
)

// Config is the whole configuration file.
type Config struct {
	// Issuer is the public URL of this server; it is the "iss" of every token.
	Issuer string `yaml:"issuer"`
	// Listen is the bind address; it may differ from the issuer's host.
	Listen string `yaml:"listen"`
	// Storage is "sqlite:PATH" or a postgres:// (postgresql://) URL.
	Storage string `yaml:"storage"`
	// SigningAlg is ES256 (default), EdDSA or RS256.
	SigningAlg string `yaml:"signing_alg"`
	// AccessTokenTTL is the lifetime of access tokens (default 10m).
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL is the lifetime of refresh tokens (default 720h).
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// KeyRotationPeriod is how long a signing key stays active before it is
	// rotated automatically (default 720h; a negative value disables it).
	KeyRotationPeriod time.Duration `yaml:"key_rotation_period"`

	Clients           []Client           `yaml:"clients"`
	ExternalAudiences []ExternalAudience `yaml:"external_audiences"`
	Users             []User             `yaml:"users"`

	// Path is the file the configuration was read from (not a YAML key).
	Path string `yaml:"-"`
}

// Client is a party that obtains tokens, consumes them, or both. APIs are
// clients too: their ID is the value that appears in "aud".
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is a plain secret (development), an argon2id PHC string or a
	// bcrypt hash. A client without one is public.
	Secret       string   `yaml:"secret"`
	RedirectURIs []string `yaml:"redirect_uris"`
	GrantTypes   []string `yaml:"grant_types"`
	// Audience lists other client IDs or external audiences that may
	// consume this client's tokens. The client itself is always included.
	Audience []string `yaml:"audience"`
	// Scopes are the scopes this client may request.
	Scopes []string `yaml:"scopes"`
	// FirstParty clients belong to the operator: users are not asked to
	// consent to them (offline_access included).
	FirstParty bool `yaml:"first_party"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return the
	// user (OIDC RP-Initiated Logout §3), matched exactly.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`

	// Line is the line of the client's entry in the file (not a YAML key).
	Line int `yaml:"-"`
}

// Public reports whether the client has no secret and so cannot
// authenticate itself.
func (c *Client) Public() bool { return c.Secret == "" }

// ExternalAudience is an audience value that is not a Gatehouse client, such
// as a third-party API. In YAML it is either a plain string (the ID) or a
// mapping with id and description.
type ExternalAudience struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	Line        int    `yaml:"-"`
}

// User is a person who can sign in.
type User struct {
	Username string `yaml:"username"`
	// Password is a plain password (development only; hashed on load).
	Password string `yaml:"password"`
	// PasswordHash is an argon2id PHC string or a bcrypt hash.
	PasswordHash string `yaml:"password_hash"`
	// Claims are extra ID-token / userinfo claims (name, email, ...).
	Claims map[string]any `yaml:"claims"`
	Line   int            `yaml:"-"`
}

// Client returns the client with the given ID, or nil. IDs are compared
// exactly (case-sensitive).
func (c *Config) Client(id string) *Client {
	for i := range c.Clients {
		if c.Clients[i].ID == id {
			return &c.Clients[i]
		}
	}
	return nil
}
