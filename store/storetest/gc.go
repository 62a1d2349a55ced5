package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Garbage collection (Store.DeleteExpired) conformance tests.

// testDeleteExpired builds state on both sides of now, sweeps, and checks
// both the count and, row by row, what is left.
func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	later := t0.Add(2 * time.Hour)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Codes: expired unused, expired used (with its access record), one
	// expiring exactly at now, one live.
	for hash, exp := range map[string]time.Time{
		"c-expired": t0.Add(time.Minute), "c-used": t0.Add(time.Minute), "c-boundary": now, "c-live": later,
	} {
		c := sampleCode(hash)
		c.ExpiresAt = exp
		must("CreateCode("+hash+")", s.CreateCode(ctx, c))
	}
	_, err := s.RedeemCode(ctx, "c-used", store.Issued{AccessJTI: "jti-code", AccessExpiresAt: t0.Add(10 * time.Minute)}, t0.Add(10*time.Second))
	must("RedeemCode", err)

	// Sessions.
	for id, exp := range map[string]time.Time{"s-expired": t0.Add(30 * time.Minute), "s-boundary": now, "s-live": later} {
		must("CreateSession("+id+")", s.CreateSession(ctx, store.Session{ID: id, Subject: "alice", ExpiresAt: exp}))
	}

	// Families. f-expired: expired, two tokens, its rotation's access
	// record expired: all of it goes.
	t1 := t0.Add(time.Minute)
	f, tok := sampleFamily("f-expired", "f-expired-0")
	f.ExpiresAt = t0.Add(30 * time.Minute)
	must("CreateFamily(f-expired)", s.CreateFamily(ctx, f, tok))
	_, err = s.RotateRefresh(ctx, "f-expired-0", nextToken("f-expired-1", t1), accessFor("jti-f-expired", t1), t1)
	must("RotateRefresh(f-expired)", err)

	// f-held: expired and revoked, its token not yet expired (a family's
	// expiry ends its tokens), and an access record live until later: the
	// family must stay so that access token still reads revoked.
	f, tok = sampleFamily("f-held", "f-held-0")
	f.ExpiresAt = t0.Add(30 * time.Minute)
	must("CreateFamily(f-held)", s.CreateFamily(ctx, f, tok))
	must("RecordAccess(jti-held)", s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-held", FamilyID: "f-held", ExpiresAt: later}))
	must("RevokeFamily(f-held)", s.RevokeFamily(ctx, "f-held", t1))

	// f-live: live, with an expired rotated token and a live successor.
	f, tok = sampleFamily("f-live", "f-live-0")
	tok.ExpiresAt = t0.Add(30 * time.Minute)
	must("CreateFamily(f-live)", s.CreateFamily(ctx, f, tok))
	_, err = s.RotateRefresh(ctx, "f-live-0", store.RefreshToken{Hash: "f-live-1", CreatedAt: t1, ExpiresAt: t0.Add(30 * 24 * time.Hour)},
		accessFor("jti-f-live", t1), t1)
	must("RotateRefresh(f-live)", err)

	// Access records and direct revocations on both sides of now.
	must("RevokeAccess(jti-rev-old)", s.RevokeAccess(ctx, "jti-rev-old", t0.Add(5*time.Minute)))
	must("RevokeAccess(jti-rev-live)", s.RevokeAccess(ctx, "jti-rev-live", later))
	must("RecordAccess(jti-live)", s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-live", ExpiresAt: later}))

	// A consent never expires.
	consent := store.Consent{Subject: "alice", ClientID: "customer-portal", Scopes: []string{"openid"}, GrantedAt: t0}
	must("PutConsent", s.PutConsent(ctx, consent))

	n, err := s.DeleteExpired(ctx, now)
	must("DeleteExpired", err)
	// codes c-expired, c-used, c-boundary (3); sessions s-expired,
	// s-boundary (2); access jti-code, jti-f-expired, jti-f-live,
	// jti-rev-old (4); family f-expired and its two tokens (3); f-held's
	// token (1); f-live's rotated token (1).
	if n != 14 {
		t.Errorf("DeleteExpired(now) = %d, want 14", n)
	}

	for hash, gone := range map[string]bool{"c-expired": true, "c-used": true, "c-boundary": true, "c-live": false} {
		_, err := s.GetCode(ctx, hash)
		assertGone(t, "code "+hash, err, gone)
	}
	for id, gone := range map[string]bool{"s-expired": true, "s-boundary": true, "s-live": false} {
		_, err := s.GetSession(ctx, id, now.Add(-2*time.Hour)) // a now at which none has expired
		assertGone(t, "session "+id, err, gone)
	}
	for hash, gone := range map[string]bool{
		"f-expired-0": true, "f-expired-1": true, "f-held-0": true, "f-live-0": true, "f-live-1": false,
	} {
		_, _, err := s.GetRefresh(ctx, hash)
		assertGone(t, "refresh token "+hash, err, gone)
	}
	// f-expired is gone; f-held is kept for its live access token, which
	// still reads revoked.
	assertGone(t, "family f-expired", s.RevokeFamily(ctx, "f-expired", now), true)
	assertAccessRevoked(t, s, "jti-held", now, true)
	assertAccessRevoked(t, s, "jti-rev-live", now, true)
	// Swept access records can be recorded afresh; kept ones conflict.
	for jti, gone := range map[string]bool{
		"jti-code": true, "jti-f-expired": true, "jti-f-live": true, "jti-rev-old": true,
		"jti-live": false, "jti-held": false, "jti-rev-live": false,
	} {
		err := s.RecordAccess(ctx, store.AccessRecord{JTI: jti, ExpiresAt: later.Add(time.Hour)})
		switch {
		case gone && err != nil:
			t.Errorf("access record %s: RecordAccess after the sweep = %v, want nil (the sweep should have removed it)", jti, err)
		case !gone && !errors.Is(err, store.ErrConflict):
			t.Errorf("access record %s: RecordAccess after the sweep = %v, want ErrConflict (it must have been kept)", jti, err)
		}
	}
	if got, err := s.GetConsent(ctx, "alice", "customer-portal"); err != nil {
		t.Errorf("GetConsent after the sweep: %v", err)
	} else {
		assertConsent(t, got, consent)
	}

	// A second sweep at the same time finds nothing.
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second DeleteExpired(now) = %d, %v; want 0, nil", n, err)
	}

	// At later, the rest expires: access records jti-live, jti-held,
	// jti-rev-live, then family f-held, code c-live, session s-live.
	// (The records re-created above for swept jtis expire an hour after
	// later and stay.)
	n, err = s.DeleteExpired(ctx, later)
	must("DeleteExpired(later)", err)
	if n != 6 {
		t.Errorf("DeleteExpired(later) = %d, want 6", n)
	}
	assertGone(t, "family f-held", s.RevokeFamily(ctx, "f-held", later), true)
	if _, _, err := s.GetRefresh(ctx, "f-live-1"); err != nil {
		t.Errorf("GetRefresh(f-live-1) after the second sweep = %v, want it kept (expires in 30 days)", err)
	}
}

// assertGone checks a lookup's error: ErrNotFound when the row should be
// gone, nil when it should be there.
func assertGone(t *testing.T, what string, err error, gone bool) {
	t.Helper()
	switch {
	case gone && !errors.Is(err, store.ErrNotFound):
		t.Errorf("%s after the sweep: %v, want ErrNotFound (removed)", what, err)
	case !gone && err != nil:
		t.Errorf("%s after the sweep: %v, want it kept", what, err)
	}
}
