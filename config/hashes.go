package config

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// LooksHashed reports whether s has the shape of a password hash Gatehouse
// understands (it starts like an argon2 PHC string or a bcrypt hash). It
// does not check the hash is well formed: a loaded Config has been
// validated, so any value that looks hashed there also parses.
func LooksHashed(s string) bool {
	return strings.HasPrefix(s, "$argon2") || looksBcrypt(s)
}

// looksBcrypt matches the prefixes "$2$", "$2a$", "$2x$" and so on;
// validation then accepts only the a, b and y variants.
func looksBcrypt(s string) bool {
	rest, ok := strings.CutPrefix(s, "$2")
	if !ok {
		return false
	}
	return strings.HasPrefix(rest, "$") || (len(rest) >= 2 && 'a' <= rest[0] && rest[0] <= 'z' && rest[1] == '$')
}

// checkHash checks a value that LooksHashed. It returns an empty message
// when the hash is well formed.
func checkHash(s string) (msg, hint string) {
	if strings.HasPrefix(s, "$argon2") {
		if !strings.HasPrefix(s, "$argon2id$") {
			return "uses an unsupported argon2 variant", "only argon2id is supported"
		}
		return checkArgon2id(s)
	}
	return checkBcrypt(s)
}

const argonHint = "expected $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH with SALT and HASH in unpadded base64"

// checkArgon2id checks the PHC string format produced by the reference
// implementation and golang.org/x/crypto/argon2 users. Upper bounds on the
// cost keep a typo from making every login allocate gigabytes.
func checkArgon2id(s string) (msg, hint string) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 {
		return "is not a valid argon2id PHC string", argonHint
	}
	if parts[2] != "v=19" {
		return "has an unsupported argon2 version " + strconv.Quote(parts[2]), "only v=19, argon2 version 1.3, is supported"
	}
	// The reference implementation writes m,t,p; accept any order, each once.
	limits := map[string][2]uint64{"m": {8, 4 << 20}, "t": {1, 1 << 10}, "p": {1, 255}}
	vals := map[string]uint64{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		lim, known := limits[k]
		if _, dup := vals[k]; !ok || !known || dup {
			return "has malformed parameters " + strconv.Quote(parts[3]), argonHint
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < lim[0] || n > lim[1] {
			return fmt.Sprintf("has %s=%s out of range", k, v), fmt.Sprintf("%s must be between %d and %d", k, lim[0], lim[1])
		}
		vals[k] = n
	}
	if len(vals) != len(limits) {
		return "has malformed parameters " + strconv.Quote(parts[3]), argonHint
	}
	if vals["m"] < 8*vals["p"] {
		return "has m smaller than 8×p", "argon2 needs at least 8 KiB of memory per thread"
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return "has an invalid salt", "the salt is at least 8 bytes in unpadded standard base64"
	}
	sum, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(sum) < 16 {
		return "has an invalid hash part", "the hash is at least 16 bytes in unpadded standard base64"
	}
	return "", ""
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt checks the modular-crypt form $2b$CC$ + 22 salt + 31 hash
// characters.
func checkBcrypt(s string) (msg, hint string) {
	const hint60 = "a bcrypt hash is 60 characters: $2b$10$ followed by 53 characters of salt and hash"
	if len(s) < 4 || !strings.Contains("aby", s[2:3]) || s[3] != '$' {
		return "uses an unsupported bcrypt variant", "use $2a$, $2b$ or $2y$"
	}
	if len(s) != 60 || s[6] != '$' {
		return "is not a valid bcrypt hash", hint60
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < 4 || cost > 31 {
		return "has an invalid cost " + strconv.Quote(s[4:6]), "the cost is two digits from 04 to 31"
	}
	for _, r := range s[7:] {
		if !strings.ContainsRune(bcryptAlphabet, r) {
			return "contains characters outside bcrypt's alphabet", hint60
		}
	}
	return "", ""
}
