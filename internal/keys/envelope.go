package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors about GATEHOUSE_SECRET that the command line reports as they are.
var (
	// ErrSecretMissing means the stored key ring is encrypted but no
	// secret was configured.
	ErrSecretMissing = errors.New("keys: the key ring in the store is encrypted but GATEHOUSE_SECRET is not set; set it to the secret the key ring was created with")
	// ErrSecretWrong means a stored key does not decrypt with the
	// configured secret (or was tampered with).
	ErrSecretWrong = errors.New("keys: GATEHOUSE_SECRET is wrong: the key ring in the store was encrypted with a different secret (or has been tampered with)")
)

// MinSecretLength is the least number of characters GATEHOUSE_SECRET must
// have. HKDF does not stretch a weak secret, so it must be random, such as
// the output of `openssl rand -base64 32`.
const MinSecretLength = 32

// Envelope versions: the first byte of store.Key.Private. A new scheme
// takes a new number; old numbers stay readable.
const (
	envPlain    byte = 0 // development mode: PKCS#8 DER follows as is
	envAESGCMv1 byte = 1 // nonce (12 bytes) || AES-256-GCM ciphertext+tag of PKCS#8 DER
)

// hkdfInfo separates this key from any other key derived from the same
// secret; changing it makes every stored ring unreadable.
const hkdfInfo = "gatehouse key ring: AES-256-GCM key-encryption key, envelope v1"

// sealer encrypts and decrypts private keys at rest. A nil aead is
// development mode: keys are stored in the plain envelope.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(secret string) (sealer, error) {
	if secret == "" {
		return sealer{}, nil
	}
	if n := utf8.RuneCountInString(secret); n < MinSecretLength {
		return sealer{}, fmt.Errorf("keys: GATEHOUSE_SECRET is too short: %d characters, need at least %d (generate one with `openssl rand -base64 32`)", n, MinSecretLength)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, hkdfInfo, 32)
	if err != nil {
		return sealer{}, fmt.Errorf("keys: deriving the key-encryption key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("keys: %w", err)
	}
	return sealer{aead: aead}, nil
}

func (s sealer) encrypted() bool { return s.aead != nil }

// aad binds a ciphertext to its key's kid and alg, so someone who can
// write to the database cannot move an encrypted private key under
// another kid or alg. The rest of the row (state, times, public JWK) is
// not authenticated; the public key is therefore always re-derived from
// the decrypted private key, never taken from the row.
func aad(kid, alg string) []byte {
	return []byte("gatehouse-key-v1\x00" + kid + "\x00" + alg)
}

// seal wraps a PKCS#8 DER private key in the envelope.
func (s sealer) seal(kid, alg string, der []byte) ([]byte, error) {
	if s.aead == nil {
		return append([]byte{envPlain}, der...), nil
	}
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(der)+s.aead.Overhead())
	out[0] = envAESGCMv1
	// Random nonces are safe here: keys are sealed a few times a month,
	// far below AES-GCM's 2^32 messages per key.
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+ns], der, aad(kid, alg)), nil
}

// open unwraps an envelope and reports whether it was stored in the
// clear. Deciding whether plaintext is acceptable is the caller's job.
func (s sealer) open(kid, alg string, blob []byte) (der []byte, plaintext bool, err error) {
	if len(blob) == 0 {
		return nil, false, fmt.Errorf("keys: key %s: empty private key", kid)
	}
	switch blob[0] {
	case envPlain:
		return blob[1:], true, nil
	case envAESGCMv1:
		if s.aead == nil {
			return nil, false, ErrSecretMissing
		}
		ns := s.aead.NonceSize()
		if len(blob) < 1+ns+s.aead.Overhead() {
			return nil, false, fmt.Errorf("keys: key %s: encrypted private key is truncated (%d bytes)", kid, len(blob))
		}
		der, err := s.aead.Open(nil, blob[1:1+ns], blob[1+ns:], aad(kid, alg))
		if err != nil {
			return nil, false, fmt.Errorf("%w (key %s does not decrypt)", ErrSecretWrong, kid)
		}
		return der, false, nil
	default:
		return nil, false, fmt.Errorf("keys: key %s: unknown private key envelope version %d (written by a newer gatehouse?)", kid, blob[0])
	}
}
