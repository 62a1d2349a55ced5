package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// reservedClaims are the claims Gatehouse sets itself, so a user's claims
// may not name them. Read-only.
var reservedClaims = []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope", "nonce", "auth_time", "at_hash", "sid", "acr", "amr"}

// validateUsers checks each user's name, credentials and claims.
func (d *decoder) validateUsers(cfg *Config) {
	seen := map[string]int{}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		p := d.posOf(u)
		if u.Username == "" {
			d.add(u.Line, "", "user without a username")
		} else if strings.TrimSpace(u.Username) != u.Username || strings.IndexFunc(u.Username, unicode.IsControl) >= 0 {
			d.add(p.at("username"), "remove leading and trailing spaces and control characters", "username %q has surrounding whitespace or control characters", u.Username)
		} else if first, dup := seen[u.Username]; dup {
			d.add(p.at("username"), fmt.Sprintf("first defined at line %d", first), "duplicate username %q", u.Username)
		} else {
			seen[u.Username] = u.Line
		}
		if c := cfg.Client(u.Username); c != nil {
			// RFC 9068 §5: a user's sub must never equal a client's, or an
			// API could not tell the user's tokens from the client's own.
			d.add(p.at("username"), "rename the user or the client", "username %q is also a client id (line %d): their tokens would share one sub", u.Username, c.Line)
		}
		who := fmt.Sprintf("user %q", u.Username)
		if u.Username == "" {
			who = fmt.Sprintf("user at line %d", u.Line)
		}

		switch {
		case u.Password == "" && u.PasswordHash == "":
			d.add(u.Line, "add password_hash: with an argon2id or bcrypt hash, or password: for development", "%s has neither password nor password_hash", who)
		case u.Password != "" && u.PasswordHash != "":
			d.add(p.at("password"), "keep only password_hash", "%s has both password and password_hash", who)
		case u.Password != "" && LooksHashed(u.Password):
			d.add(p.at("password"), "a hash goes under password_hash:", "%s: password looks like a hash", who)
		case u.PasswordHash != "":
			if !LooksHashed(u.PasswordHash) {
				d.add(p.at("password_hash"), "give an argon2id PHC string $argon2id$v=19$m=…,t=…,p=…$SALT$HASH or a bcrypt hash $2b$…; a plain password goes under password:", "%s: password_hash is not an argon2id or bcrypt hash", who)
			} else if msg, hint := checkHash(u.PasswordHash); msg != "" {
				d.add(p.at("password_hash"), hint, "%s: password_hash %s", who, msg)
			}
		}

		keys := make([]string, 0, len(u.Claims))
		for k := range u.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if slices.Contains(reservedClaims, k) {
				d.add(p.at("claims."+k), "Gatehouse sets "+strings.Join(reservedClaims, ", ")+" itself; remove it or use another name",
					"%s: claim %q is reserved", who, k)
			}
		}
	}
}
