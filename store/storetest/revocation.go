package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Access-token revocation (store.RevocationStore) conformance tests.

func testAccessRevocation(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-acc", "refresh-acc")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	exp := t0.Add(10 * time.Minute)
	now := t0.Add(time.Minute)
	for _, r := range []store.AccessRecord{
		{JTI: "jti-fam", FamilyID: fam.ID, ExpiresAt: exp},
		{JTI: "jti-fam-2", FamilyID: fam.ID, ExpiresAt: exp},
		{JTI: "jti-solo", ExpiresAt: exp},
	} {
		if err := s.RecordAccess(ctx, r); err != nil {
			t.Fatalf("RecordAccess(%s): %v", r.JTI, err)
		}
	}
	// A jti is recorded once; the duplicate changes nothing (the record
	// keeps its family, as the revocation below shows).
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-fam", ExpiresAt: exp}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RecordAccess of a recorded jti = %v, want ErrConflict", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "", ExpiresAt: exp}); err == nil || isSentinel(err) {
		t.Errorf("RecordAccess without a jti = %v, want a plain error", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-noexp"}); err == nil || isSentinel(err) {
		t.Errorf("RecordAccess without ExpiresAt = %v, want a plain error", err)
	}
	for _, jti := range []string{"jti-fam", "jti-fam-2", "jti-solo", "jti-unknown"} {
		assertAccessRevoked(t, s, jti, now, false)
	}

	// Directly, by jti: only that token.
	if err := s.RevokeAccess(ctx, "jti-fam-2", exp); err != nil {
		t.Fatalf("RevokeAccess: %v", err)
	}
	assertAccessRevoked(t, s, "jti-fam-2", now, true)
	assertAccessRevoked(t, s, "jti-fam", now, false)

	// Through the family: every token recorded under it.
	if err := s.RevokeFamily(ctx, fam.ID, now); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	assertAccessRevoked(t, s, "jti-fam", now, true)
	assertAccessRevoked(t, s, "jti-solo", now, false)

	// A token never recorded (client_credentials) can be revoked by jti,
	// idempotently.
	for range 2 {
		if err := s.RevokeAccess(ctx, "jti-cc", exp); err != nil {
			t.Fatalf("RevokeAccess(jti-cc): %v", err)
		}
	}
	assertAccessRevoked(t, s, "jti-cc", now, true)
	if err := s.RevokeAccess(ctx, "", exp); err == nil || isSentinel(err) {
		t.Errorf("RevokeAccess without a jti = %v, want a plain error", err)
	}
}

func testAccessRevocationExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(10 * time.Minute)
	if err := s.RevokeAccess(ctx, "jti-exp", exp); err != nil {
		t.Fatalf("RevokeAccess: %v", err)
	}
	assertAccessRevoked(t, s, "jti-exp", exp.Add(-time.Millisecond), true)
	// From the token's expiry on the answer is false, whether or not the
	// record has been swept.
	assertAccessRevoked(t, s, "jti-exp", ms(exp), false)
	assertAccessRevoked(t, s, "jti-exp", exp, false)
	assertAccessRevoked(t, s, "jti-exp", exp.Add(time.Hour), false)

	// Revoking again with an earlier expiry keeps the later one.
	if err := s.RevokeAccess(ctx, "jti-exp", t0); err != nil {
		t.Fatalf("RevokeAccess again: %v", err)
	}
	assertAccessRevoked(t, s, "jti-exp", exp.Add(-time.Millisecond), true)
	// And with a later one extends it.
	later := exp.Add(time.Hour)
	if err := s.RevokeAccess(ctx, "jti-exp", later); err != nil {
		t.Fatalf("RevokeAccess later: %v", err)
	}
	assertAccessRevoked(t, s, "jti-exp", later.Add(-time.Millisecond), true)

	// A recorded token of a revoked family is not reported past its expiry.
	fam, tok := sampleFamily("family-accexp", "refresh-accexp")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-famexp", FamilyID: fam.ID, ExpiresAt: exp}); err != nil {
		t.Fatalf("RecordAccess: %v", err)
	}
	if err := s.RevokeFamily(ctx, fam.ID, t0); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	assertAccessRevoked(t, s, "jti-famexp", exp.Add(-time.Millisecond), true)
	assertAccessRevoked(t, s, "jti-famexp", exp, false)
}
