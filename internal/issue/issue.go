// Package issue mints the tokens Gatehouse signs. Minting is on the hot
// path of every token request, so claims are appended into a pooled buffer
// by hand instead of going through reflection, and the JWS header of the
// active key is encoded once per key, not per token.
package issue

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/oauth"
)

// KeySource yields the keys that sign now. internal/keys.Ring implements
// it.
type KeySource interface {
	// Signer is the primary key: it signs access tokens, and ID tokens
	// unless the client asked for another algorithm.
	Signer() *keys.Signer
	// SignerFor is the active key of alg, for ID tokens of clients that
	// registered id_token_signed_response_alg; ok is false when the ring
	// keeps no key of alg.
	SignerFor(alg string) (s *keys.Signer, ok bool)
}

// Minter signs access tokens. It is safe for concurrent use.
type Minter struct {
	issuer string
	ttl    time.Duration
	now    func() time.Time
	keys   KeySource

	header atomic.Pointer[encodedHeader]
	bufs   sync.Pool
}

type encodedHeader struct {
	signer *keys.Signer
	b64    string
}

// New returns a Minter for issuer whose access tokens live ttl.
// now is the clock (time.Now in production).
func New(issuer string, ttl time.Duration, src KeySource, now func() time.Time) *Minter {
	m := &Minter{issuer: issuer, ttl: ttl, now: now, keys: src}
	m.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return m
}

// TTL is the access-token lifetime.
func (m *Minter) TTL() time.Duration { return m.ttl }

// Access describes one access token to mint.
type Access struct {
	// Subject is the user, or the client itself for client_credentials
	// (RFC 9068 §2.2).
	Subject  string
	ClientID string
	Grant    policy.Grant
	// Groups is the groups claim (the person's groups the client may
	// see); nil leaves it out.
	Groups []string
	// Act is the delegation chain of a token exchange (RFC 8693 §4.1),
	// the latest actor first: it becomes nested act claims. Nil leaves
	// act out.
	Act []string
	// NotAfter, when set, caps exp: an exchanged token outlives neither
	// the token it came from.
	NotAfter time.Time
	// JKT, when set, binds the token to a DPoP key (RFC 9449 §6.1): the
	// claim cnf {"jkt": JKT}, the key's RFC 7638 thumbprint.
	JKT string
}

// Minted is a signed token with the facts callers record about it.
type Minted struct {
	Token     string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessToken signs an RFC 9068 access token: header typ "at+jwt" and kid;
// claims iss, sub, aud (a string when single), azp when aud is not just the
// client, client_id, scope, iat, exp and a random jti.
func (m *Minter) AccessToken(a Access) (Minted, error) {
	signer := m.keys.Signer()
	hdr := m.headerFor(signer)

	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Minted{}, err
	}
	var jtiBuf [22]byte
	base64.RawURLEncoding.Encode(jtiBuf[:], raw[:])
	jti := string(jtiBuf[:])

	now := m.now().Truncate(time.Second)
	exp := now.Add(m.ttl)
	if !a.NotAfter.IsZero() && a.NotAfter.Before(exp) {
		exp = a.NotAfter.Truncate(time.Second)
	}

	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	claims := (*bp)[:0]
	claims = append(claims, `{"iss":`...)
	claims = appendString(claims, m.issuer)
	claims = append(claims, `,"sub":`...)
	claims = appendString(claims, a.Subject)
	claims = append(claims, `,"aud":`...)
	claims = appendAudience(claims, a.Grant.Audience)
	if a.Grant.AZP != "" {
		claims = append(claims, `,"azp":`...)
		claims = appendString(claims, a.Grant.AZP)
	}
	claims = append(claims, `,"client_id":`...)
	claims = appendString(claims, a.ClientID)
	if a.Grant.Scope != "" {
		claims = append(claims, `,"scope":`...)
		claims = appendString(claims, a.Grant.Scope)
	}
	if a.Groups != nil {
		claims = append(claims, `,"groups":`...)
		claims = appendStrings(claims, a.Groups)
	}
	if len(a.Act) > 0 {
		// {"sub":"latest","act":{"sub":"before",...}}
		claims = append(claims, `,"act":`...)
		for i, actor := range a.Act {
			if i > 0 {
				claims = append(claims, `,"act":`...)
			}
			claims = append(claims, `{"sub":`...)
			claims = appendString(claims, actor)
		}
		for range a.Act {
			claims = append(claims, '}')
		}
	}
	if a.JKT != "" {
		claims = append(claims, `,"cnf":{"jkt":`...)
		claims = appendString(claims, a.JKT)
		claims = append(claims, '}')
	}
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, exp.Unix(), 10)
	claims = append(claims, `,"jti":"`...)
	claims = append(claims, jti...)
	claims = append(claims, `"}`...)

	// Lay out header.payload after the claims in the same buffer, then sign.
	start := len(claims)
	out := append(claims, hdr...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, claims[:start])
	sig, err := signer.Sign(out[start:])
	if err != nil {
		*bp = out[:0]
		return Minted{}, err
	}
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sig)
	tok := string(out[start:])
	*bp = out[:0]
	return Minted{Token: tok, JTI: jti, IssuedAt: now, ExpiresAt: exp}, nil
}

// headerFor returns the encoded header of signer, encoding it only when the
// active key has changed.
func (m *Minter) headerFor(s *keys.Signer) string {
	if h := m.header.Load(); h != nil && h.signer == s {
		return h.b64
	}
	b, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{s.Alg, s.KID, oauth.TokenTypeAccessJWT})
	h := &encodedHeader{signer: s, b64: base64.RawURLEncoding.EncodeToString(b)}
	m.header.Store(h)
	return h.b64
}

func appendAudience(b []byte, aud oauth.Audience) []byte {
	if len(aud) == 1 {
		return appendString(b, aud[0])
	}
	return appendStrings(b, aud)
}

// appendStrings appends list as a JSON array of strings.
func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, a := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string. The common case (printable ASCII
// without quotes or backslashes: client ids, URLs, scopes) is copied as is;
// anything else goes through encoding/json so escaping and invalid UTF-8
// are handled exactly as the standard library does.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
