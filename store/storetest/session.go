package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Browser session (store.SessionStore) and consent (store.ConsentStore)
// conformance tests.

func testSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := store.Session{
		ID:        "cookie-hash-1",
		Subject:   "alice",
		AuthTime:  t0.Add(-time.Minute),
		AMR:       []string{"pwd", "hwk"},
		CreatedAt: t0,
		ExpiresAt: t0.Add(8 * time.Hour),
	}
	if err := s.CreateSession(ctx, want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.GetSession(ctx, want.ID, t0)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	assertSession(t, got, want)
	if got, err := s.GetSession(ctx, want.ID, want.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Errorf("GetSession 1ms before expiry: %v", err)
	} else {
		assertSession(t, got, want)
	}
	for _, at := range []time.Time{ms(want.ExpiresAt), want.ExpiresAt, want.ExpiresAt.Add(time.Hour)} {
		if got, err := s.GetSession(ctx, want.ID, at); !errors.Is(err, store.ErrExpired) || got.ID != "" {
			t.Errorf("GetSession at expiry+%v = %q, %v; want the zero Session and ErrExpired", at.Sub(want.ExpiresAt), got.ID, err)
		}
	}
	if _, err := s.GetSession(ctx, "no-such-session", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(unknown) = %v, want ErrNotFound", err)
	}

	other := want
	other.Subject = "mallory"
	if err := s.CreateSession(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateSession with a taken ID = %v, want ErrConflict", err)
	}
	if got, err := s.GetSession(ctx, want.ID, t0); err != nil || got.Subject != "alice" {
		t.Errorf("GetSession after a refused create = %q, %v; want alice's session", got.Subject, err)
	}
	if err := s.CreateSession(ctx, store.Session{ID: "no-expiry", Subject: "alice"}); err == nil || isSentinel(err) {
		t.Errorf("CreateSession without ExpiresAt = %v, want a plain error", err)
	}

	// Two sessions; deleting one leaves the other.
	second := store.Session{ID: "cookie-hash-2", Subject: "bob", AMR: []string{}, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, second); err != nil {
		t.Fatalf("CreateSession(second): %v", err)
	}
	if err := s.DeleteSession(ctx, want.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.GetSession(ctx, want.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, want.ID); err != nil {
		t.Errorf("DeleteSession of a deleted session = %v, want nil", err)
	}
	got, err = s.GetSession(ctx, second.ID, t0)
	if err != nil {
		t.Fatalf("GetSession(second): %v", err)
	}
	assertSession(t, got, second)
	testSessionBySID(t, s)
}

// testSessionBySID: an RP-initiated logout without the cookie finds the
// session by the sid of its ID token.
func testSessionBySID(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Session{ID: strings.Repeat("a", 32) + strings.Repeat("1", 32), Subject: "alice", AuthTime: t0,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	b := store.Session{ID: strings.Repeat("a", 31) + "b" + strings.Repeat("1", 32), Subject: "bob", AuthTime: t0,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, sess := range []store.Session{a, b} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	got, err := s.SessionBySID(ctx, store.SID(a.ID), t0)
	if err != nil {
		t.Fatalf("SessionBySID: %v", err)
	}
	assertSession(t, got, a)
	if got, err := s.SessionBySID(ctx, store.SID(b.ID), t0); err != nil || got.Subject != "bob" {
		t.Errorf("SessionBySID(b) = %q, %v; want bob's session", got.Subject, err)
	}
	for _, sid := range []string{"", strings.Repeat("a", 31), a.ID, strings.Repeat("a", 31) + "%", strings.Repeat("c", 32)} {
		if _, err := s.SessionBySID(ctx, sid, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionBySID(%q) = %v, want ErrNotFound", sid, err)
		}
	}
	if _, err := s.SessionBySID(ctx, store.SID(a.ID), a.ExpiresAt); !errors.Is(err, store.ErrExpired) {
		t.Errorf("SessionBySID at expiry = %v, want ErrExpired", err)
	}
	if err := s.DeleteSession(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionBySID(ctx, store.SID(a.ID), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionBySID after delete = %v, want ErrNotFound", err)
	}
}

func testConsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetConsent(ctx, "alice", "customer-portal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent before any = %v, want ErrNotFound", err)
	}
	first := store.Consent{
		Subject:   "alice",
		ClientID:  "customer-portal",
		Scopes:    []string{"openid", "profile", "orders:read"},
		Audience:  []string{"customer-portal", "https://orders.example.com"},
		GrantedAt: t0,
	}
	other := store.Consent{Subject: "alice", ClientID: "back-office", Scopes: []string{"openid"}, GrantedAt: t0}
	for _, c := range []store.Consent{first, other} {
		if err := s.PutConsent(ctx, c); err != nil {
			t.Fatalf("PutConsent(%s): %v", c.ClientID, err)
		}
	}
	got, err := s.GetConsent(ctx, "alice", "customer-portal")
	if err != nil {
		t.Fatalf("GetConsent: %v", err)
	}
	assertConsent(t, got, first)
	if _, err := s.GetConsent(ctx, "bob", "customer-portal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent(bob) = %v, want ErrNotFound", err)
	}

	// Put replaces as a whole: narrower scopes, no audience at all.
	second := store.Consent{Subject: "alice", ClientID: "customer-portal", Scopes: []string{"openid"},
		Audience: []string{}, GrantedAt: t0.Add(time.Hour)}
	if err := s.PutConsent(ctx, second); err != nil {
		t.Fatalf("PutConsent (replace): %v", err)
	}
	got, err = s.GetConsent(ctx, "alice", "customer-portal")
	if err != nil {
		t.Fatalf("GetConsent after replace: %v", err)
	}
	second.Audience = nil
	assertConsent(t, got, second)

	if err := s.PutConsent(ctx, store.Consent{Subject: "", ClientID: "customer-portal"}); err == nil || isSentinel(err) {
		t.Errorf("PutConsent without a subject = %v, want a plain error", err)
	}

	if err := s.DeleteConsent(ctx, "alice", "customer-portal"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	if _, err := s.GetConsent(ctx, "alice", "customer-portal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteConsent(ctx, "alice", "customer-portal"); err != nil {
		t.Errorf("DeleteConsent of a deleted consent = %v, want nil", err)
	}
	got, err = s.GetConsent(ctx, "alice", "back-office")
	if err != nil {
		t.Fatalf("GetConsent(back-office) after deleting another: %v", err)
	}
	assertConsent(t, got, other)
}

func assertSession(t *testing.T, got, want store.Session) {
	t.Helper()
	w := "session " + want.ID
	assertString(t, w+" ID", got.ID, want.ID)
	assertString(t, w+" Subject", got.Subject, want.Subject)
	assertTime(t, w+" AuthTime", got.AuthTime, want.AuthTime)
	assertList(t, w+" AMR", got.AMR, want.AMR)
	assertTime(t, w+" CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, w+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func assertConsent(t *testing.T, got, want store.Consent) {
	t.Helper()
	w := "consent " + want.Subject + "/" + want.ClientID
	assertString(t, w+" Subject", got.Subject, want.Subject)
	assertString(t, w+" ClientID", got.ClientID, want.ClientID)
	assertList(t, w+" Scopes", got.Scopes, want.Scopes)
	assertList(t, w+" Audience", got.Audience, want.Audience)
	assertTime(t, w+" GrantedAt", got.GrantedAt, want.GrantedAt)
}
