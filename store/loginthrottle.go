package store

import (
	"context"
	"time"
)

// LoginFailureRetention is how long a noted login failure is kept:
// DeleteExpired removes failures noted at or before now minus this. It
// must exceed the longest window a caller passes to LoginFailures (the
// server's is 5 minutes); an hour leaves room for a longer policy without
// keeping attempts around for days.
const LoginFailureRetention = time.Hour

// LoginThrottleStore counts failed sign-ins per key across every instance
// sharing the store, so a guesser cannot multiply the per-user allowance
// by spreading attempts over instances.
//
// Keys are opaque strings, compared exactly, byte for byte. The server
// passes a hash of the (length-capped) username, never the username
// itself, so the table lists no account names and every key has the same
// length; a key is still not a secret (a guessable username can be
// hashed by anyone), so it does not make the table confidential.
//
// One row is kept per failure, so LoginFailures can count any window; the
// rows a key can gather are bounded by the caller's limits (the server
// refuses, without noting, once a key is over its limit) and by
// DeleteExpired after LoginFailureRetention.
//
// Times are compared at millisecond precision, like every stored time.
// An empty key, a zero at or a zero since is refused with an error (none
// of the sentinels) before anything changes.
type LoginThrottleStore interface {
	// NoteLoginFailure records one failed sign-in for key at at. Several
	// failures at the same instant are all counted.
	NoteLoginFailure(ctx context.Context, key string, at time.Time) error
	// LoginFailures returns how many failures of key were noted at or
	// after since (0 for a key never noted).
	LoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	// ClearLoginFailures forgets every failure of key, after a successful
	// sign-in. Clearing a key with none succeeds.
	ClearLoginFailures(ctx context.Context, key string) error
}
