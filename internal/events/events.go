// Package events is Gatehouse's audit trail: one JSON line per
// security-relevant event (sign-ins, lockouts, consent, code redemption,
// refresh reuse, revocation, failed client authentication, key rotation,
// configuration reload) on a stream of its own, apart from the
// operational log.
//
// An Event never carries a password, token, code or secret, and that holds
// by construction: its fields are fixed names, identifiers, outcomes and
// addresses. The only values that come from a request unchecked are the
// claimed username and client id, which are clipped (Clip) and escaped by
// the JSON encoding, so they cannot forge a line or a field.
package events

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// The event types. Their fields are listed in README.md ("Audit trail").
const (
	SignInSuccess     = "signin.success"      // Username, ClientID, Address, Source
	SignInFailure     = "signin.failure"      // Username, ClientID, Address, Source
	SignInLocked      = "signin.locked"       // Username, ClientID, Address, Source
	SignInDisabled    = "signin.disabled"     // Username, ClientID, Address, Source: right password, disabled account
	ClientRegistered  = "client.registered"   // ClientID, Address: RFC 7591 dynamic registration
	Unlock            = "unlock"              // Username, Source
	UserAdded         = "user.added"          // Username (the subject), Source
	UserDisabled      = "user.disabled"       // Username (the subject), Source
	UserEnabled       = "user.enabled"        // Username (the subject), Source
	UserPasswordSet   = "user.password_set"   // Username (the subject), Source
	UserGroupsSet     = "user.groups_set"     // Username (the subject), Source
	UserDeleted       = "user.deleted"        // Username (the subject), Source
	ConsentGranted    = "consent.granted"     // Username, ClientID, Address, Scopes
	ConsentDenied     = "consent.denied"      // Username, ClientID, Address
	CodeRedeemed      = "code.redeemed"       // Username, ClientID
	CodeReplayed      = "code.replayed"       // Username, ClientID
	RefreshReuse      = "refresh.reuse"       // Username, ClientID
	Revocation        = "revocation"          // ClientID, Address, Outcome
	ClientAuthFailure = "client_auth.failure" // ClientID (claimed), Address, Reason
	KeyRotation       = "key.rotation"        // Alg, KeyID, RetiredKeyID
	ConfigReloadType  = "config.reload"       // Outcome, Problems
)

// Event is one audit record. Empty fields are left out of the line.
type Event struct {
	Time time.Time `json:"time"`
	// Stream is always "audit" on output (Writer sets it), so the lines
	// can be told apart when they share stdout with the operational log.
	Stream string `json:"stream"`
	Type   string `json:"event"`
	// Username is the account: the one claimed on a failed sign-in (it
	// may not exist), the authenticated one otherwise.
	Username string `json:"username,omitempty"`
	// ClientID is the OAuth client: on ClientAuthFailure the id that was
	// claimed, not authenticated.
	ClientID string `json:"client_id,omitempty"`
	// Address is the caller's address as the server resolved it
	// (trusted proxies applied).
	Address string `json:"address,omitempty"`
	// Source is where the identity was checked: "local" for the
	// configured users, "cli" for a command.
	Source string `json:"source,omitempty"`
	// Outcome and Reason come from small fixed vocabularies.
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Scopes are the scopes a consent covered.
	Scopes []string `json:"scopes,omitempty"`
	// Key rotation: the algorithm, the new active key and the one retired.
	Alg          string `json:"alg,omitempty"`
	KeyID        string `json:"kid,omitempty"`
	RetiredKeyID string `json:"retired_kid,omitempty"`
	// Problems counts what a configuration reload found wrong.
	Problems int `json:"problems,omitempty"`
}

// ConfigReload is the event of a configuration reload: ok when the new
// configuration was taken, otherwise how many problems kept it out. The
// reload code calls Sink.Emit(ctx, events.ConfigReload(ok, n)).
func ConfigReload(ok bool, problems int) Event {
	e := Event{Type: ConfigReloadType, Outcome: "applied", Problems: problems}
	if !ok {
		e.Outcome = "rejected"
	}
	return e
}

// Sink receives events. Implementations are safe for concurrent use and
// do not fail the caller: an audit write that fails is the sink's to
// report.
type Sink interface {
	Emit(ctx context.Context, e Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(context.Context, Event) {}

// OrDiscard returns s, or Discard when s is nil.
func OrDiscard(s Sink) Sink {
	if s == nil {
		return Discard
	}
	return s
}

// MaxClaimed is how many bytes of a claimed username or client id reach
// an event: a request may send a megabyte-long one, the line stays short.
const MaxClaimed = 256

// Clip cuts a value taken from a request to MaxClaimed bytes, on a rune
// boundary so the cut leaves no broken UTF-8 behind.
func Clip(s string) string {
	if len(s) <= MaxClaimed {
		return s
	}
	s = s[:MaxClaimed]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Writer is a Sink that writes one JSON line per event to an io.Writer.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	// OnError, when set, is told about a failed write (the caller of
	// Emit is a request that must not fail because of it).
	OnError func(error)
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, now: time.Now} }

// Emit writes e as one line. The line is encoded before the lock is taken
// and written with one Write, so concurrent events never interleave.
func (s *Writer) Emit(_ context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	e.Stream = "audit"
	e.Username, e.ClientID = Clip(e.Username), Clip(e.ClientID)
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: every field is a string, int, time or []string
		s.fail(err)
		return
	}
	b = append(b, '\n')
	s.mu.Lock()
	_, err = s.w.Write(b)
	s.mu.Unlock()
	if err != nil {
		s.fail(err)
	}
}

func (s *Writer) fail(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}
