package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Authorization code (store.CodeStore) conformance tests, and the helpers
// the runtime-state tests share.

// t0 is the reference time of the runtime-state tests: not UTC and with
// sub-millisecond parts, so a backend that drops the zone conversion or
// loses precision beyond the millisecond is caught. Expiry checks stay a
// whole millisecond or more away from an ExpiresAt, where the contract's
// millisecond precision cannot blur them.
var t0 = time.Date(2026, 2, 3, 4, 5, 6, 789_123_456, time.FixedZone("UTC-3", -3*3600))

// ms is t truncated to the millisecond: exactly the stored value of a
// time, for checks at the very boundary of an expiry.
func ms(t time.Time) time.Time {
	return t.Truncate(time.Millisecond)
}

// sampleCode is a fully populated unused code that expires a minute after
// t0.
func sampleCode(hash string) store.AuthCode {
	return store.AuthCode{
		Hash:                hash,
		ClientID:            "customer-portal",
		RedirectURI:         "https://portal.example.com/callback?x=1",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6_WzA2Mj",
		Subject:             "alice",
		// Order and duplicates must survive; so must case and spaces
		// inside an element.
		Scopes:        []string{"openid", "profile", "offline_access", "Orders:Read", "profile"},
		Audience:      []string{"customer-portal", "https://orders.example.com", "hr api"},
		IDTokenClaims: []string{"email", "name", "email"},
		AuthTime:      t0.Add(-5 * time.Minute),
		AMR:           []string{"pwd", "otp", "pwd"},
		DPoPJKT:       "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		SessionID:     "session-hash-1",
		CreatedAt:     t0,
		ExpiresAt:     t0.Add(time.Minute),
	}
}

// sampleFamily is a fully populated live family with its first token,
// both expiring 30 days after t0. The token's FamilyID is left empty for
// the store to fill in.
func sampleFamily(id, tokenHash string) (store.RefreshFamily, store.RefreshToken) {
	return store.RefreshFamily{
			ID:        id,
			ClientID:  "customer-portal",
			Subject:   "alice",
			Scopes:    []string{"openid", "offline_access", "orders:read"},
			Audience:  []string{"customer-portal", "https://orders.example.com"},
			SessionID: "session-hash-1",
			AuthTime:  t0.Add(-5 * time.Minute),
			AMR:       []string{"fed", "mfa"},
			DPoPJKT:   "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
			CreatedAt: t0,
			ExpiresAt: t0.Add(30 * 24 * time.Hour),
		}, store.RefreshToken{
			Hash:      tokenHash,
			CreatedAt: t0,
			ExpiresAt: t0.Add(30 * 24 * time.Hour),
		}
}

// issuedWithFamily is what a redemption issues with a refresh token: an
// access token jti, a family famID and its first token refreshHash.
func issuedWithFamily(jti, famID, refreshHash string) store.Issued {
	f, r := sampleFamily(famID, refreshHash)
	return store.Issued{
		FamilyID:        famID,
		AccessJTI:       jti,
		AccessExpiresAt: t0.Add(10 * time.Minute),
		Family:          &f,
		Refresh:         &r,
	}
}

func testCodeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleCode("code-hash-1")
	if err := s.CreateCode(ctx, want); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	got, err := s.GetCode(ctx, want.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	assertCode(t, got, want)

	// Empty lists, nil or not, read back as nil; empty strings stay empty.
	bare := store.AuthCode{Hash: "code-hash-bare", Scopes: []string{}, ExpiresAt: t0.Add(time.Minute)}
	if err := s.CreateCode(ctx, bare); err != nil {
		t.Fatalf("CreateCode(bare): %v", err)
	}
	got, err = s.GetCode(ctx, bare.Hash)
	if err != nil {
		t.Fatalf("GetCode(bare): %v", err)
	}
	bare.Scopes = nil
	assertCode(t, got, bare)

	if _, err := s.GetCode(ctx, "no-such-code"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCode(unknown) = %v, want ErrNotFound", err)
	}
	// Hashes are compared exactly: another case is another code.
	if _, err := s.GetCode(ctx, "CODE-HASH-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCode(upper-cased hash) = %v, want ErrNotFound", err)
	}
}

func testCodeDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := sampleCode("code-hash-dup")
	if err := s.CreateCode(ctx, want); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	other := sampleCode("code-hash-dup")
	other.ClientID, other.RedirectURI = "attacker", "https://evil.example/cb"
	if err := s.CreateCode(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateCode with a taken hash = %v, want ErrConflict", err)
	}
	got, err := s.GetCode(ctx, want.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	assertCode(t, got, want) // not overwritten
}

func testCodeRequiredFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	noHash := sampleCode("")
	noExpiry := sampleCode("code-hash-noexp")
	noExpiry.ExpiresAt = time.Time{}
	for name, c := range map[string]store.AuthCode{"empty Hash": noHash, "zero ExpiresAt": noExpiry} {
		if err := s.CreateCode(ctx, c); err == nil || isSentinel(err) {
			t.Errorf("CreateCode with %s = %v, want a plain error", name, err)
		}
	}
	if _, err := s.GetCode(ctx, noExpiry.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCode after a refused CreateCode = %v, want ErrNotFound", err)
	}
}

func testCodeRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := sampleCode("code-hash-redeem")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	issued := issuedWithFamily("jti-1", "family-1", "refresh-hash-1")
	issued.FamilyID = "" // may be left empty: filled from Family.ID
	issued.Refresh.FamilyID = ""
	now := t0.Add(30 * time.Second)
	got, err := s.RedeemCode(ctx, code.Hash, issued, now)
	if err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	want := code
	want.UsedAt = now
	want.Issued = store.Issued{FamilyID: "family-1", AccessJTI: "jti-1", AccessExpiresAt: issued.AccessExpiresAt}
	assertCode(t, got, want)
	stored, err := s.GetCode(ctx, code.Hash)
	if err != nil {
		t.Fatalf("GetCode after RedeemCode: %v", err)
	}
	assertCode(t, stored, want)

	// The family and its first token were created in the same transaction.
	tok, fam, err := s.GetRefresh(ctx, "refresh-hash-1")
	if err != nil {
		t.Fatalf("GetRefresh of the redemption's refresh token: %v", err)
	}
	wantFam, wantTok := sampleFamily("family-1", "refresh-hash-1")
	wantTok.FamilyID = "family-1"
	assertFamily(t, fam, wantFam)
	assertToken(t, tok, wantTok)

	// The access token was recorded under the family: revoking the family
	// revokes it.
	assertAccessRevoked(t, s, "jti-1", now, false)
	if err := s.RevokeFamily(ctx, "family-1", now); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	assertAccessRevoked(t, s, "jti-1", now, true)
}

func testCodeRedeemWithoutRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := sampleCode("code-hash-norefresh")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	issued := store.Issued{AccessJTI: "jti-plain", AccessExpiresAt: t0.Add(10 * time.Minute)}
	now := t0.Add(time.Second)
	got, err := s.RedeemCode(ctx, code.Hash, issued, now)
	if err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	want := code
	want.UsedAt = now
	want.Issued = issued
	assertCode(t, got, want)
	// The access token is recorded (a second record of its jti conflicts)
	// and can be revoked by jti.
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-plain", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RecordAccess of the redemption's jti = %v, want ErrConflict (RedeemCode must record it)", err)
	}
	assertAccessRevoked(t, s, "jti-plain", now, false)
	if err := s.RevokeAccess(ctx, "jti-plain", issued.AccessExpiresAt); err != nil {
		t.Fatalf("RevokeAccess: %v", err)
	}
	assertAccessRevoked(t, s, "jti-plain", now, true)
}

func testCodeReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := sampleCode("code-hash-replay")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	first := issuedWithFamily("jti-first", "family-first", "refresh-first")
	now := t0.Add(10 * time.Second)
	if _, err := s.RedeemCode(ctx, code.Hash, first, now); err != nil {
		t.Fatalf("first RedeemCode: %v", err)
	}
	want := code
	want.UsedAt = now
	want.Issued = store.Issued{FamilyID: "family-first", AccessJTI: "jti-first", AccessExpiresAt: first.AccessExpiresAt}

	// A replay, within the code's lifetime and long after it: both report
	// ErrCodeUsed with what the first redemption issued.
	for _, at := range []time.Time{now.Add(time.Second), code.ExpiresAt.Add(time.Hour)} {
		second := issuedWithFamily("jti-second", "family-second", "refresh-second")
		got, err := s.RedeemCode(ctx, code.Hash, second, at)
		if !errors.Is(err, store.ErrCodeUsed) {
			t.Fatalf("RedeemCode replay at %v = %v, want ErrCodeUsed", at, err)
		}
		assertCode(t, got, want)
	}
	// The replay changed nothing: the code is as the first redemption
	// left it, and nothing of what the replays passed was created.
	got, err := s.GetCode(ctx, code.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	assertCode(t, got, want)
	if _, _, err := s.GetRefresh(ctx, "refresh-second"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh of a replay's refresh token = %v, want ErrNotFound", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-second", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Errorf("RecordAccess of a replay's jti = %v, want nil (the replay must not have recorded it)", err)
	}
	// And the family of the first redemption is still live.
	if _, fam, err := s.GetRefresh(ctx, "refresh-first"); err != nil || !fam.RevokedAt.IsZero() {
		t.Errorf("first redemption's family after replays: RevokedAt %v, err %v; want live", fam.RevokedAt, err)
	}
}

func testCodeExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := sampleCode("code-hash-expired")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	for _, at := range []time.Time{ms(code.ExpiresAt), code.ExpiresAt, code.ExpiresAt.Add(time.Hour)} {
		got, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-late", "family-late", "refresh-late"), at)
		if !errors.Is(err, store.ErrExpired) {
			t.Errorf("RedeemCode at %v (ExpiresAt %v) = %v, want ErrExpired", at, code.ExpiresAt, err)
		}
		if got.Hash != "" {
			t.Errorf("RedeemCode of an expired code returned code %q, want the zero AuthCode", got.Hash)
		}
	}
	got, err := s.GetCode(ctx, code.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	assertCode(t, got, code) // still unused
	if _, _, err := s.GetRefresh(ctx, "refresh-late"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh after an expired redemption = %v, want ErrNotFound", err)
	}
	// A millisecond before expiry it still redeems.
	if _, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-ok", "family-ok", "refresh-ok"),
		code.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Errorf("RedeemCode 1ms before expiry: %v", err)
	}
}

func testCodeRedeemUnknown(t *testing.T, s store.Store) {
	_, err := s.RedeemCode(t.Context(), "no-such-code", issuedWithFamily("jti-x", "family-x", "refresh-x"), t0)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RedeemCode(unknown) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.GetRefresh(t.Context(), "refresh-x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh after redeeming an unknown code = %v, want ErrNotFound", err)
	}
}

// testCodeRedeemAtomic checks that a redemption whose family cannot be
// created changes nothing at all, not even the code.
func testCodeRedeemAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	fam, tok := sampleFamily("family-taken", "refresh-taken")
	if err := s.CreateFamily(ctx, fam, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	code := sampleCode("code-hash-atomic")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	now := t0.Add(time.Second)
	// The family ID is taken; the jti is new.
	if _, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-atomic", "family-taken", "refresh-new"), now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RedeemCode with a taken family ID = %v, want ErrConflict", err)
	}
	// So do a taken refresh hash and a taken jti, each written after the
	// family in the same transaction: the rollback must take the family
	// (and the token) with it.
	if _, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-atomic", "family-new", "refresh-taken"), now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RedeemCode with a taken refresh hash = %v, want ErrConflict", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-taken", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("RecordAccess(jti-taken): %v", err)
	}
	if _, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-taken", "family-new", "refresh-new"), now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RedeemCode with a taken jti = %v, want ErrConflict", err)
	}
	// Inconsistent input is refused before anything happens.
	bad := issuedWithFamily("jti-atomic", "family-new", "refresh-new")
	bad.Refresh = nil
	if _, err := s.RedeemCode(ctx, code.Hash, bad, now); err == nil || isSentinel(err) {
		t.Errorf("RedeemCode with Family but no Refresh = %v, want a plain error", err)
	}
	mismatch := issuedWithFamily("jti-atomic", "family-new", "refresh-new")
	mismatch.FamilyID = "family-other"
	if _, err := s.RedeemCode(ctx, code.Hash, mismatch, now); err == nil || isSentinel(err) {
		t.Errorf("RedeemCode with FamilyID != Family.ID = %v, want a plain error", err)
	}
	noJTI := issuedWithFamily("", "family-new", "refresh-new")
	if _, err := s.RedeemCode(ctx, code.Hash, noJTI, now); err == nil || isSentinel(err) {
		t.Errorf("RedeemCode without AccessJTI = %v, want a plain error", err)
	}

	got, err := s.GetCode(ctx, code.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	assertCode(t, got, code) // still unused
	if _, _, err := s.GetRefresh(ctx, "refresh-new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefresh after failed redemptions = %v, want ErrNotFound", err)
	}
	if err := s.RecordAccess(ctx, store.AccessRecord{JTI: "jti-atomic", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Errorf("RecordAccess of a failed redemption's jti = %v, want nil (nothing may have been recorded)", err)
	}
	// With fresh IDs the code still redeems.
	if _, err := s.RedeemCode(ctx, code.Hash, issuedWithFamily("jti-atomic-2", "family-new", "refresh-new"), now); err != nil {
		t.Errorf("RedeemCode after failed attempts: %v", err)
	}
}

func testCodeConcurrentRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := sampleCode("code-hash-race")
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
		codes = make([]store.AuthCode, n)
	)
	now := t0.Add(time.Second)
	for i := range n {
		wg.Go(func() {
			issued := issuedWithFamily(fmt.Sprintf("jti-%d", i), fmt.Sprintf("family-%d", i), fmt.Sprintf("refresh-%d", i))
			<-start
			codes[i], errs[i] = s.RedeemCode(ctx, code.Hash, issued, now)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("redeemers %d and %d both redeemed one code", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrCodeUsed):
		default:
			t.Errorf("redeemer %d: RedeemCode = %v, want nil or ErrCodeUsed (a busy database must wait, not fail)", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no redeemer won")
	}
	wantIssued := store.Issued{
		FamilyID:        fmt.Sprintf("family-%d", winner),
		AccessJTI:       fmt.Sprintf("jti-%d", winner),
		AccessExpiresAt: t0.Add(10 * time.Minute),
	}
	for i := range n {
		if errors.Is(errs[i], store.ErrCodeUsed) || i == winner {
			assertIssued(t, fmt.Sprintf("redeemer %d", i), codes[i].Issued, wantIssued)
		}
		_, _, err := s.GetRefresh(ctx, fmt.Sprintf("refresh-%d", i))
		switch {
		case i == winner && err != nil:
			t.Errorf("GetRefresh of the winner's refresh token: %v", err)
		case i != winner && !errors.Is(err, store.ErrNotFound):
			t.Errorf("GetRefresh of loser %d's refresh token = %v, want ErrNotFound", i, err)
		}
	}
}

// assertCode compares every field of two codes (see assertTime for times
// and assertList for lists).
func assertCode(t *testing.T, got, want store.AuthCode) {
	t.Helper()
	w := "code " + want.Hash
	assertString(t, w+" Hash", got.Hash, want.Hash)
	assertString(t, w+" ClientID", got.ClientID, want.ClientID)
	assertString(t, w+" RedirectURI", got.RedirectURI, want.RedirectURI)
	assertString(t, w+" CodeChallenge", got.CodeChallenge, want.CodeChallenge)
	assertString(t, w+" CodeChallengeMethod", got.CodeChallengeMethod, want.CodeChallengeMethod)
	assertString(t, w+" Nonce", got.Nonce, want.Nonce)
	assertString(t, w+" Subject", got.Subject, want.Subject)
	assertList(t, w+" Scopes", got.Scopes, want.Scopes)
	assertList(t, w+" Audience", got.Audience, want.Audience)
	assertList(t, w+" IDTokenClaims", got.IDTokenClaims, want.IDTokenClaims)
	assertTime(t, w+" AuthTime", got.AuthTime, want.AuthTime)
	assertList(t, w+" AMR", got.AMR, want.AMR)
	assertString(t, w+" DPoPJKT", got.DPoPJKT, want.DPoPJKT)
	assertString(t, w+" SessionID", got.SessionID, want.SessionID)
	assertTime(t, w+" CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, w+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	assertTime(t, w+" UsedAt", got.UsedAt, want.UsedAt)
	assertIssued(t, w, got.Issued, want.Issued)
}

func assertIssued(t *testing.T, what string, got, want store.Issued) {
	t.Helper()
	assertString(t, what+" Issued.FamilyID", got.FamilyID, want.FamilyID)
	assertString(t, what+" Issued.AccessJTI", got.AccessJTI, want.AccessJTI)
	assertTime(t, what+" Issued.AccessExpiresAt", got.AccessExpiresAt, want.AccessExpiresAt)
	if got.Family != nil || got.Refresh != nil {
		t.Errorf("%s Issued.Family/Refresh = %v/%v, want nil (input only)", what, got.Family, got.Refresh)
	}
}

func assertString(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// assertList checks a list round-trip: same elements in the same order;
// an empty list must read back as nil, as the contract says.
func assertList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("%s = %#v, want nil (an empty list reads back as nil)", what, got)
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// isSentinel reports whether err is one of the store's sentinels; argument
// errors must not be, or a caller would misread a bug as a state.
func isSentinel(err error) bool {
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrCodeUsed,
		store.ErrExpired, store.ErrRevoked, store.ErrReused} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func assertAccessRevoked(t *testing.T, s store.Store, jti string, now time.Time, want bool) {
	t.Helper()
	got, err := s.AccessRevoked(t.Context(), jti, now)
	if err != nil {
		t.Fatalf("AccessRevoked(%q): %v", jti, err)
	}
	if got != want {
		t.Errorf("AccessRevoked(%q, %v) = %v, want %v", jti, now, got, want)
	}
}
