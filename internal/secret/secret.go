// Package secret checks presented client secrets and passwords against the
// forms the configuration accepts: a plain value (development), an argon2id
// PHC string, or a bcrypt hash.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Checker reports whether a presented secret matches the stored one, in
// time that does not depend on how much of it matches.
type Checker interface {
	Check(presented string) bool
}

// Kind names the stored form.
type Kind int

// Stored forms.
const (
	Plain Kind = iota
	Argon2id
	Bcrypt
)

// KindOf tells which form a stored value has, by its prefix.
func KindOf(stored string) Kind {
	switch {
	case strings.HasPrefix(stored, "$argon2id$"):
		return Argon2id
	case strings.HasPrefix(stored, "$2a$"), strings.HasPrefix(stored, "$2b$"), strings.HasPrefix(stored, "$2y$"):
		return Bcrypt
	}
	return Plain
}

// Gate bounds how many slow hashes (argon2id, bcrypt) run at once. Each
// argon2id check holds about 19 MiB, so without a bound a burst of
// concurrent login attempts could exhaust memory; with one, extra checks
// wait their turn. A nil Gate does not limit.
type Gate chan struct{}

// NewGate returns a Gate admitting n concurrent slow checks.
func NewGate(n int) Gate { return make(Gate, n) }

func (g Gate) enter() {
	if g != nil {
		g <- struct{}{}
	}
}

func (g Gate) leave() {
	if g != nil {
		<-g
	}
}

// gated runs a slow checker through a Gate.
type gated struct {
	inner Checker
	gate  Gate
}

func (g gated) Check(presented string) bool {
	g.gate.enter()
	defer g.gate.leave()
	return g.inner.Check(presented)
}

// ParseGated is Parse with slow checks admitted through gate.
func ParseGated(stored string, gate Gate) (Checker, error) {
	c, err := ParseUncachedGated(stored, gate)
	if err != nil || KindOf(stored) == Plain {
		return c, err
	}
	return Cached(c), nil
}

// ParseUncachedGated is ParseUncached with slow checks admitted through
// gate.
func ParseUncachedGated(stored string, gate Gate) (Checker, error) {
	c, err := ParseUncached(stored)
	if err != nil || KindOf(stored) == Plain {
		return c, err
	}
	return gated{inner: c, gate: gate}, nil
}

// Parse returns a Checker for a stored value. Plain values are kept only as
// their SHA-256 (a high-entropy secret needs no slow hash, and the plain
// value does not stay in memory as a comparable string). Slow hashes are
// wrapped in a cache of successful checks (see Cached), so a client paying
// argon2id once is not charged again on every token request.
func Parse(stored string) (Checker, error) {
	switch KindOf(stored) {
	case Argon2id:
		a, err := parseArgon2id(stored)
		if err != nil {
			return nil, err
		}
		return Cached(a), nil
	case Bcrypt:
		if _, err := bcrypt.Cost([]byte(stored)); err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		return Cached(bcryptChecker(stored)), nil
	}
	return plainChecker(sha256.Sum256([]byte(stored))), nil
}

// ParseUncached is Parse without the cache of successful checks. Passwords
// use it: a person signs in rarely, and a cached match in memory would
// only shorten the work of someone who can read the process.
func ParseUncached(stored string) (Checker, error) {
	switch KindOf(stored) {
	case Argon2id:
		return parseArgon2id(stored)
	case Bcrypt:
		if _, err := bcrypt.Cost([]byte(stored)); err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		return bcryptChecker(stored), nil
	}
	return plainChecker(sha256.Sum256([]byte(stored))), nil
}

type plainChecker [32]byte

// QuickChecker is implemented by checkers that can sometimes answer
// without the slow hash: a plain secret always, a cached slow hash when
// the presented value matched before. decided is false when only Check
// can tell.
type QuickChecker interface {
	QuickCheck(presented string) (match, decided bool)
}

// QuickCheck always decides: a plain secret costs one SHA-256.
func (p plainChecker) QuickCheck(presented string) (bool, bool) { return p.Check(presented), true }

func (p plainChecker) Check(presented string) bool {
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], p[:]) == 1
}

type bcryptChecker string

func (b bcryptChecker) Check(presented string) bool {
	return bcrypt.CompareHashAndPassword([]byte(b), []byte(presented)) == nil
}

type argon2Checker struct {
	time, memory uint32
	threads      uint8
	salt, hash   []byte
}

func (a *argon2Checker) Check(presented string) bool {
	got := argon2.IDKey([]byte(presented), a.salt, a.time, a.memory, a.threads, uint32(len(a.hash)))
	return subtle.ConstantTimeCompare(got, a.hash) == 1
}

// ErrFormat is returned for a malformed argon2id PHC string.
var ErrFormat = errors.New("argon2id hash must look like $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64)")

func parseArgon2id(s string) (*argon2Checker, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, ErrFormat
	}
	a := &argon2Checker{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, ErrFormat
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return nil, ErrFormat
		}
		switch k {
		case "m":
			a.memory = uint32(n)
		case "t":
			a.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, ErrFormat
			}
			a.threads = uint8(n)
		default:
			return nil, ErrFormat
		}
	}
	if a.memory == 0 || a.time == 0 || a.threads == 0 {
		return nil, ErrFormat
	}
	var err error
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return nil, ErrFormat
	}
	if a.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.hash) < 16 {
		return nil, ErrFormat
	}
	return a, nil
}

// HashArgon2id returns a PHC string for password with the OWASP-recommended
// argon2id parameters (19 MiB, 2 passes, 1 lane).
func HashArgon2id(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const m, t, p = 19456, 2, 1
	h := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h)), nil
}

// maxCached bounds the cache per secret: a client normally has one valid
// secret, so a handful of entries covers rotation windows.
const maxCached = 8

// Cached wraps a slow checker so a successful check is remembered under an
// HMAC of the presented value with a per-process random key. Only matches
// are cached: a wrong guess always pays the slow hash, which is what makes
// guessing expensive; and the cache holds no value from which the secret
// could be recovered without the process key.
func Cached(c Checker) Checker {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return &cachedChecker{inner: c, key: k}
}

type cachedChecker struct {
	inner Checker
	key   []byte

	mu   sync.RWMutex
	good [][32]byte
}

func (c *cachedChecker) mac(presented string) [32]byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(presented))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// QuickCheck decides only a remembered match; anything else needs the
// slow hash.
func (c *cachedChecker) QuickCheck(presented string) (bool, bool) {
	_, hit := c.remembered(presented)
	return hit, hit
}

// remembered reports whether presented matched before, and its MAC.
func (c *cachedChecker) remembered(presented string) ([32]byte, bool) {
	m := c.mac(presented)
	c.mu.RLock()
	hit := 0
	for i := range c.good {
		hit |= subtle.ConstantTimeCompare(c.good[i][:], m[:])
	}
	c.mu.RUnlock()
	return m, hit == 1
}

func (c *cachedChecker) Check(presented string) bool {
	m, hit := c.remembered(presented)
	if hit {
		return true
	}
	if !c.inner.Check(presented) {
		return false
	}
	c.mu.Lock()
	if len(c.good) >= maxCached {
		c.good = c.good[1:]
	}
	c.good = append(c.good, m)
	c.mu.Unlock()
	return true
}
