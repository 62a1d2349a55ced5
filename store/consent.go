package store

import (
	"context"
	"time"
)

// Consent is what a user has allowed one client, remembered so the
// consent page is not shown again for the same request.
type Consent struct {
	Subject  string
	ClientID string
	// Scopes and Audience are what the user approved; a later request for
	// anything outside them asks again.
	Scopes    []string
	Audience  []string
	GrantedAt time.Time
}

// ConsentStore keeps consents, one per (Subject, ClientID). Consents do
// not expire; DeleteExpired leaves them alone.
type ConsentStore interface {
	// PutConsent stores c, replacing any consent of the same subject and
	// client as a whole (the caller merges if it wants a union). Subject
	// and ClientID are required.
	PutConsent(ctx context.Context, c Consent) error
	// GetConsent returns the consent or ErrNotFound.
	GetConsent(ctx context.Context, subject, clientID string) (Consent, error)
	// DeleteConsent removes the consent; deleting an absent one succeeds.
	DeleteConsent(ctx context.Context, subject, clientID string) error
}
