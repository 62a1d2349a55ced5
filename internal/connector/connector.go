// Package connector defines what an identity source vouches for when a
// person signs in through it, and the errors every source reports the same
// way. The sources themselves live in subpackages: ldapdir (a directory
// checked with a username and password) and upstream (an OpenID Connect
// provider the browser is sent to). Local users (YAML and store) need no
// connector: internal/server checks their passwords itself.
//
// A source's identities are its own: Identity.Subject is unique within the
// source only. internal/server turns it into the local subject with
// LocalSubject, which puts the source's ID in front, so two sources can
// never produce the same local subject, and an email address never joins
// two identities (nothing here compares emails).
package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Identity is a person as a source vouches for them at one sign-in.
type Identity struct {
	// Subject is the person's stable, source-local identifier: the
	// upstream provider's "sub", or the directory's subject attribute.
	// Required.
	Subject string
	// Username is what the person types or is known by
	// (preferred_username).
	Username string
	// Email is the person's address as the source gives it; EmailVerified
	// says whether the source vouches for it. An address never identifies
	// a person here: it is a claim, not a key.
	Email         string
	EmailVerified bool
	// Name is the display name.
	Name string
	// Groups are the person's groups at the source, by name.
	Groups []string
	// AMR are the authentication methods the source reports (RFC 8176), if
	// any; an upstream provider's "amr" claim.
	AMR []string
}

// Errors every source returns (possibly wrapped), so the server shows the
// same page and counts the same failure whatever the source.
var (
	// ErrInvalidCredentials: unknown username or wrong password. The two
	// are never told apart.
	ErrInvalidCredentials = errors.New("connector: invalid username or password")
	// ErrNotFound: the person is no longer at the source (Lookup).
	ErrNotFound = errors.New("connector: person not found")
	// ErrUnavailable: the source could not be reached or answered in
	// time; nothing is known about the person.
	ErrUnavailable = errors.New("connector: identity source unavailable")
)

// MaxSubject is the longest local subject (OIDC Core §2: at most 255 ASCII
// characters).
const MaxSubject = 255

// LocalSubject is the local "sub" of a person the source with this ID
// vouches for as sourceSub: "source:sub". A local user's username has no
// colon (config and `gatehouse users add` refuse one), so no local user
// can collide with a person from a source; the source ID ends at the first
// colon, so two sources cannot collide either. A subject that would be
// longer than MaxSubject is replaced by a SHA-256 of it, still prefixed
// with the source, so it stays stable and unique.
func LocalSubject(sourceID, sourceSub string) string {
	s := sourceID + ":" + sourceSub
	if len(s) <= MaxSubject && printableASCII(sourceSub) {
		return s
	}
	h := sha256.Sum256([]byte(sourceSub))
	return sourceID + ":sha256-" + hex.EncodeToString(h[:])
}

// SourceOf returns the ID of the source a local subject came from, or ""
// for a local user.
func SourceOf(subject string) string {
	id, _, ok := strings.Cut(subject, ":")
	if !ok {
		return ""
	}
	return id
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}
