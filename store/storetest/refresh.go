package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Refresh family (store.RefreshStore) conformance tests.

// nextToken is a successor token for rotation, its FamilyID left empty for
// the store to fill in.
func nextToken(hash string, now time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: hash, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
}

func accessFor(jti string, now time.Time) store.AccessRecord {
	return store.AccessRecord{JTI: jti, ExpiresAt: now.Add(10 * time.Minute)}
}

func testRefreshRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-rt", "refresh-rt")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	gotTok, gotFam, err := s.GetRefresh(ctx, "refresh-rt")
	if err != nil {
		t.Fatalf("GetRefresh: %v", err)
	}
	tok.FamilyID = fam.ID // filled in by the store
	assertFamily(t, gotFam, fam)
	assertToken(t, gotTok, tok)

	// A family with empty lists and no session, its token's FamilyID given.
	bare := store.RefreshFamily{ID: "family-bare", Audience: []string{}, ExpiresAt: t0.Add(time.Hour)}
	bareTok := store.RefreshToken{Hash: "refresh-bare", FamilyID: "family-bare", ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateFamily(ctx, bare, bareTok); err != nil {
		t.Fatalf("CreateFamily(bare): %v", err)
	}
	gotTok, gotFam, err = s.GetRefresh(ctx, "refresh-bare")
	if err != nil {
		t.Fatalf("GetRefresh(bare): %v", err)
	}
	bare.Audience = nil
	assertFamily(t, gotFam, bare)
	assertToken(t, gotTok, bareTok)

	if _, _, err := s.GetRefresh(ctx, "no-such-token"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh(unknown) = %v, want ErrNotFound", err)
	}
}

func testRefreshCreateConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-c", "refresh-c")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	// Same family ID, new token: refused, and the new token not stored.
	f2, t2 := sampleFamily("family-c", "refresh-c2")
	f2.Subject = "mallory"
	if err := s.CreateFamily(ctx, f2, t2); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateFamily with a taken ID = %v, want ErrConflict", err)
	}
	if _, _, err := s.GetRefresh(ctx, "refresh-c2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh of the refused family's token = %v, want ErrNotFound", err)
	}
	// New family ID, taken token hash: refused, and the family not stored
	// (a later create of it succeeds).
	f3, t3 := sampleFamily("family-c3", "refresh-c")
	if err := s.CreateFamily(ctx, f3, t3); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateFamily with a taken token hash = %v, want ErrConflict", err)
	}
	if err := s.CreateFamily(ctx, f3, store.RefreshToken{Hash: "refresh-c3", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Errorf("CreateFamily(family-c3) after the refused one = %v, want nil (the refused call must have stored nothing)", err)
	}
	_, got, err := s.GetRefresh(ctx, "refresh-c")
	if err != nil {
		t.Fatalf("GetRefresh: %v", err)
	}
	assertFamily(t, got, fam) // untouched

	// Inconsistent or missing fields: a plain error, nothing stored.
	f4, t4 := sampleFamily("family-c4", "refresh-c4")
	t4.FamilyID = "family-other"
	if err := s.CreateFamily(ctx, f4, t4); err == nil || isSentinel(err) {
		t.Errorf("CreateFamily with a token of another family = %v, want a plain error", err)
	}
	f5, t5 := sampleFamily("family-c5", "refresh-c5")
	f5.ExpiresAt = time.Time{}
	if err := s.CreateFamily(ctx, f5, t5); err == nil || isSentinel(err) {
		t.Errorf("CreateFamily without ExpiresAt = %v, want a plain error", err)
	}
	for _, h := range []string{"refresh-c4", "refresh-c5"} {
		if _, _, err := s.GetRefresh(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefresh(%s) after a refused CreateFamily = %v, want ErrNotFound", h, err)
		}
	}
}

func testRefreshRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-rot", "refresh-0")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	// A chain of rotations, each from the previous successor.
	for i := 1; i <= 3; i++ {
		now := t0.Add(time.Duration(i) * time.Hour)
		old, next := fmt.Sprintf("refresh-%d", i-1), fmt.Sprintf("refresh-%d", i)
		got, err := s.RotateRefresh(ctx, old, nextToken(next, now), accessFor(fmt.Sprintf("jti-%d", i), now), now)
		if err != nil {
			t.Fatalf("RotateRefresh #%d: %v", i, err)
		}
		assertFamily(t, got, fam)

		oldTok, _, err := s.GetRefresh(ctx, old)
		if err != nil {
			t.Fatalf("GetRefresh(%s): %v", old, err)
		}
		assertTime(t, old+" RotatedAt", oldTok.RotatedAt, now)
		newTok, newFam, err := s.GetRefresh(ctx, next)
		if err != nil {
			t.Fatalf("GetRefresh(%s): %v", next, err)
		}
		want := nextToken(next, now)
		want.FamilyID = fam.ID
		assertToken(t, newTok, want)
		assertFamily(t, newFam, fam)
	}
	// The access tokens were recorded under the family.
	now := t0.Add(3 * time.Hour)
	assertAccessRevoked(t, s, "jti-3", now, false)
	if err := s.RevokeFamily(ctx, fam.ID, now); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	assertAccessRevoked(t, s, "jti-3", now, true)
}

func testRefreshRotateArgs(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-args", "refresh-args")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	other := nextToken("refresh-args-next", t0)
	other.FamilyID = "another-family"
	otherAccess := accessFor("jti-args", t0)
	otherAccess.FamilyID = "another-family"
	bad := []struct {
		name   string
		next   store.RefreshToken
		access store.AccessRecord
	}{
		{"next of another family", other, accessFor("jti-args", t0)},
		{"access of another family", nextToken("refresh-args-next", t0), otherAccess},
		{"empty next hash", nextToken("", t0), accessFor("jti-args", t0)},
		{"empty jti", nextToken("refresh-args-next", t0), accessFor("", t0)},
	}
	for _, b := range bad {
		if _, err := s.RotateRefresh(ctx, "refresh-args", b.next, b.access, t0); err == nil || isSentinel(err) {
			t.Errorf("RotateRefresh with %s = %v, want a plain error", b.name, err)
		}
	}
	// None of them rotated anything: the token still rotates normally.
	if _, err := s.RotateRefresh(ctx, "refresh-args", nextToken("refresh-args-next", t0), accessFor("jti-args", t0), t0); err != nil {
		t.Errorf("RotateRefresh after refused calls: %v", err)
	}
	// A successor hash already in use conflicts and changes nothing.
	f2, t2 := sampleFamily("family-args2", "refresh-args2")
	if err := s.CreateFamily(ctx, f2, t2); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	if _, err := s.RotateRefresh(ctx, "refresh-args2", nextToken("refresh-args-next", t0), accessFor("jti-args2", t0), t0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RotateRefresh to a taken hash = %v, want ErrConflict", err)
	}
	if got, _, err := s.GetRefresh(ctx, "refresh-args2"); err != nil || !got.RotatedAt.IsZero() {
		t.Errorf("token after a conflicting rotation: RotatedAt %v, err %v; want unrotated", got.RotatedAt, err)
	}
	// So does a jti already recorded, although it is written after the
	// successor: the successor must not be left behind.
	if _, err := s.RotateRefresh(ctx, "refresh-args2", nextToken("refresh-args2-next", t0), accessFor("jti-args", t0), t0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RotateRefresh with a taken jti = %v, want ErrConflict", err)
	}
	if got, _, err := s.GetRefresh(ctx, "refresh-args2"); err != nil || !got.RotatedAt.IsZero() {
		t.Errorf("token after a rotation with a taken jti: RotatedAt %v, err %v; want unrotated", got.RotatedAt, err)
	}
	if _, _, err := s.GetRefresh(ctx, "refresh-args2-next"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh of the successor of a rotation with a taken jti = %v, want ErrNotFound", err)
	}
}

func testRefreshReuse(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-reuse", "refresh-a")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	t1 := t0.Add(time.Minute)
	if _, err := s.RotateRefresh(ctx, "refresh-a", nextToken("refresh-b", t1), accessFor("jti-b", t1), t1); err != nil {
		t.Fatalf("RotateRefresh(a→b): %v", err)
	}
	// refresh-a again: reuse. The family is revoked at t2, and the call
	// stored nothing of its own.
	t2 := t1.Add(time.Minute)
	got, err := s.RotateRefresh(ctx, "refresh-a", nextToken("refresh-c", t2), accessFor("jti-c", t2), t2)
	if !errors.Is(err, store.ErrReused) {
		t.Fatalf("RotateRefresh of a rotated token = %v, want ErrReused", err)
	}
	wantFam := fam
	wantFam.RevokedAt = t2
	assertFamily(t, got, wantFam)
	// The revocation was committed although the call failed.
	_, stored, err := s.GetRefresh(ctx, "refresh-b")
	if err != nil {
		t.Fatalf("GetRefresh(b): %v", err)
	}
	assertFamily(t, stored, wantFam)
	if _, _, err := s.GetRefresh(ctx, "refresh-c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh of the reuse call's successor = %v, want ErrNotFound", err)
	}
	// The legitimate successor is dead too, and so are the family's
	// access tokens.
	if _, err := s.RotateRefresh(ctx, "refresh-b", nextToken("refresh-d", t2), accessFor("jti-d", t2), t2); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("RotateRefresh(b) after reuse = %v, want ErrRevoked", err)
	}
	assertAccessRevoked(t, s, "jti-b", t2, true)
	// A second reuse keeps the first revocation time.
	t3 := t2.Add(time.Minute)
	got, err = s.RotateRefresh(ctx, "refresh-a", nextToken("refresh-e", t3), accessFor("jti-e", t3), t3)
	if !errors.Is(err, store.ErrRevoked) {
		t.Errorf("RotateRefresh(a) on a revoked family = %v, want ErrRevoked", err)
	}
	assertFamily(t, got, wantFam)
}

func testRefreshExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A token expiring before its family, and a family expiring before
	// its token: either expiry stops rotation.
	famA, tokA := sampleFamily("family-exp-a", "refresh-exp-a")
	tokA.ExpiresAt = t0.Add(time.Hour)
	famB, tokB := sampleFamily("family-exp-b", "refresh-exp-b")
	famB.ExpiresAt = t0.Add(time.Hour)
	for _, ft := range []struct {
		f store.RefreshFamily
		t store.RefreshToken
	}{{famA, tokA}, {famB, tokB}} {
		if err := s.CreateFamily(ctx, ft.f, ft.t); err != nil {
			t.Fatalf("CreateFamily(%s): %v", ft.f.ID, err)
		}
	}
	expiry := t0.Add(time.Hour)
	for _, h := range []string{"refresh-exp-a", "refresh-exp-b"} {
		for _, at := range []time.Time{ms(expiry), expiry, expiry.Add(time.Hour)} {
			_, err := s.RotateRefresh(ctx, h, nextToken(h+"-next", at), accessFor(h+"-jti", at), at)
			if !errors.Is(err, store.ErrExpired) {
				t.Errorf("RotateRefresh(%s) at expiry+%v = %v, want ErrExpired", h, at.Sub(expiry), err)
			}
		}
		tok, fam, err := s.GetRefresh(ctx, h)
		if err != nil {
			t.Fatalf("GetRefresh(%s): %v", h, err)
		}
		if !tok.RotatedAt.IsZero() || !fam.RevokedAt.IsZero() {
			t.Errorf("%s after expired rotations: RotatedAt %v, family RevokedAt %v; want both zero", h, tok.RotatedAt, fam.RevokedAt)
		}
		// A millisecond before, it rotates.
		before := expiry.Add(-time.Millisecond)
		if _, err := s.RotateRefresh(ctx, h, nextToken(h+"-next", before), accessFor(h+"-jti", before), before); err != nil {
			t.Errorf("RotateRefresh(%s) 1ms before expiry: %v", h, err)
		}
	}
}

func testRefreshRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-rev", "refresh-rev")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	t1 := t0.Add(time.Minute)
	if err := s.RevokeFamily(ctx, fam.ID, t1); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	// Idempotent, keeping the first time.
	if err := s.RevokeFamily(ctx, fam.ID, t1.Add(time.Hour)); err != nil {
		t.Errorf("RevokeFamily again: %v", err)
	}
	_, got, err := s.GetRefresh(ctx, "refresh-rev")
	if err != nil {
		t.Fatalf("GetRefresh: %v", err)
	}
	want := fam
	want.RevokedAt = t1
	assertFamily(t, got, want)
	// An unrotated token of a revoked family is refused, not treated as
	// reuse, and stays unrotated.
	gotFam, err := s.RotateRefresh(ctx, "refresh-rev", nextToken("refresh-rev-next", t1), accessFor("jti-rev", t1), t1)
	if !errors.Is(err, store.ErrRevoked) {
		t.Errorf("RotateRefresh on a revoked family = %v, want ErrRevoked", err)
	}
	assertFamily(t, gotFam, want)
	if tok, _, _ := s.GetRefresh(ctx, "refresh-rev"); !tok.RotatedAt.IsZero() {
		t.Errorf("token of a revoked family was rotated at %v", tok.RotatedAt)
	}
	if err := s.RevokeFamily(ctx, "no-such-family", t1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeFamily(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.RotateRefresh(ctx, "no-such-token", nextToken("x", t1), accessFor("jti-x", t1), t1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefresh(unknown) = %v, want ErrNotFound", err)
	}
}

func testRefreshConcurrentRotate(t *testing.T, s store.Store) {
	// Two rotators is the race a client has with itself (two tabs) or a
	// thief with the client; eight shake out locking bugs.
	for _, n := range []int{2, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { concurrentRotate(t, s, n) })
	}
}

func concurrentRotate(t *testing.T, s store.Store, n int) {
	ctx := t.Context()
	prefix := fmt.Sprintf("race%d", n)
	fam, tok := sampleFamily(prefix, prefix+"-refresh")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	now := t0.Add(time.Minute)
	for i := range n {
		wg.Go(func() {
			next := nextToken(fmt.Sprintf("%s-refresh-%d", prefix, i), now)
			access := accessFor(fmt.Sprintf("%s-jti-%d", prefix, i), now)
			<-start
			_, errs[i] = s.RotateRefresh(ctx, tok.Hash, next, access, now)
		})
	}
	close(start)
	wg.Wait()

	// The rotations serialise: one wins, the next reuses a rotated token
	// (ErrReused, revoking the family), and any after that find the
	// family revoked (ErrRevoked).
	winner, reused := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("rotators %d and %d both rotated one token", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrReused):
			reused++
		case errors.Is(err, store.ErrRevoked):
		default:
			t.Errorf("rotator %d: RotateRefresh = %v, want nil, ErrReused or ErrRevoked (a busy database must wait, not fail)", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rotator won")
	}
	if reused != 1 {
		t.Errorf("%d rotators got ErrReused, want exactly 1 (the first loser; later ones find the family revoked)", reused)
	}
	// The family ends revoked, and with it the winner's successor and
	// access token.
	_, got, err := s.GetRefresh(ctx, fmt.Sprintf("%s-refresh-%d", prefix, winner))
	if err != nil {
		t.Fatalf("GetRefresh of the winner's successor: %v", err)
	}
	if got.RevokedAt.IsZero() {
		t.Error("family is live after concurrent rotations, want revoked (the losers reused a rotated token)")
	}
	assertAccessRevoked(t, s, fmt.Sprintf("%s-jti-%d", prefix, winner), now, true)
	for i := range n {
		if i == winner {
			continue
		}
		if _, _, err := s.GetRefresh(ctx, fmt.Sprintf("%s-refresh-%d", prefix, i)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRefresh of loser %d's successor = %v, want ErrNotFound", i, err)
		}
	}
}

func testRevokeFamiliesBySession(t *testing.T, s store.Store) {
	ctx := t.Context()
	earlier := t0.Add(-time.Hour)
	type fam struct {
		id, session string
		revokedAt   time.Time
	}
	fams := []fam{
		{"s1-a", "session-1", time.Time{}},
		{"s1-b", "session-1", time.Time{}},
		{"s1-old", "session-1", earlier}, // already revoked: keeps its time, not counted
		{"s2-a", "session-2", time.Time{}},
		{"none", "", time.Time{}},
	}
	for _, f := range fams {
		rf, rt := sampleFamily(f.id, "refresh-"+f.id)
		rf.SessionID, rf.RevokedAt = f.session, f.revokedAt
		if err := s.CreateFamily(ctx, rf, rt); err != nil {
			t.Fatalf("CreateFamily(%s): %v", f.id, err)
		}
	}
	now := t0.Add(time.Minute)
	n, err := s.RevokeFamiliesBySession(ctx, "session-1", now)
	if err != nil {
		t.Fatalf("RevokeFamiliesBySession: %v", err)
	}
	if n != 2 {
		t.Errorf("RevokeFamiliesBySession = %d, want 2 (live families of session-1)", n)
	}
	want := map[string]time.Time{"s1-a": now, "s1-b": now, "s1-old": earlier, "s2-a": {}, "none": {}}
	for id, w := range want {
		_, got, err := s.GetRefresh(ctx, "refresh-"+id)
		if err != nil {
			t.Fatalf("GetRefresh(%s): %v", id, err)
		}
		assertTime(t, id+" RevokedAt", got.RevokedAt, w)
	}
	if n, err := s.RevokeFamiliesBySession(ctx, "session-1", now); err != nil || n != 0 {
		t.Errorf("RevokeFamiliesBySession again = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.RevokeFamiliesBySession(ctx, "", now); err == nil || isSentinel(err) {
		t.Errorf("RevokeFamiliesBySession(\"\") = %d, %v; want a plain error", n, err)
	}
	if _, got, _ := s.GetRefresh(ctx, "refresh-none"); !got.RevokedAt.IsZero() {
		t.Errorf("family without a session revoked at %v by an empty session ID", got.RevokedAt)
	}
}

func assertFamily(t *testing.T, got, want store.RefreshFamily) {
	t.Helper()
	w := "family " + want.ID
	assertString(t, w+" ID", got.ID, want.ID)
	assertString(t, w+" ClientID", got.ClientID, want.ClientID)
	assertString(t, w+" Subject", got.Subject, want.Subject)
	assertList(t, w+" Scopes", got.Scopes, want.Scopes)
	assertList(t, w+" Audience", got.Audience, want.Audience)
	assertString(t, w+" SessionID", got.SessionID, want.SessionID)
	assertTime(t, w+" AuthTime", got.AuthTime, want.AuthTime)
	assertList(t, w+" AMR", got.AMR, want.AMR)
	assertString(t, w+" DPoPJKT", got.DPoPJKT, want.DPoPJKT)
	assertTime(t, w+" CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, w+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	assertTime(t, w+" RevokedAt", got.RevokedAt, want.RevokedAt)
}

func assertToken(t *testing.T, got, want store.RefreshToken) {
	t.Helper()
	w := "refresh token " + want.Hash
	assertString(t, w+" Hash", got.Hash, want.Hash)
	assertString(t, w+" FamilyID", got.FamilyID, want.FamilyID)
	assertTime(t, w+" CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, w+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	assertTime(t, w+" RotatedAt", got.RotatedAt, want.RotatedAt)
}
