package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// fakeSQL is an SQL whose methods a test sets one by one. The embedded
// interface is nil, so a method a test did not expect to reach the SQL
// panics: that is how the tests see that refused arguments stop in
// Checked.
type fakeSQL struct {
	SQL
	createCode func(store.AuthCode) error
	getCode    func(string) (store.AuthCode, error)
	redeem     func(Redemption) (store.AuthCode, error)
	rotate     func(Rotation) (store.RefreshFamily, error)
	getSession func(string) (store.Session, error)
	addUsage   func([]store.UsageDelta) error
	sweep      func(Sweep, time.Time, int) (int64, error)
	signIn     func(store.Person) (store.Person, error)
}

func (f *fakeSQL) RecordSignIn(_ context.Context, p store.Person) (store.Person, error) {
	return f.signIn(p)
}

func (f *fakeSQL) CreateCode(_ context.Context, c store.AuthCode) error { return f.createCode(c) }
func (f *fakeSQL) GetCode(_ context.Context, h string) (store.AuthCode, error) {
	return f.getCode(h)
}
func (f *fakeSQL) RedeemCode(_ context.Context, r Redemption) (store.AuthCode, error) {
	return f.redeem(r)
}
func (f *fakeSQL) RotateRefresh(_ context.Context, r Rotation) (store.RefreshFamily, error) {
	return f.rotate(r)
}
func (f *fakeSQL) GetSession(_ context.Context, id string) (store.Session, error) {
	return f.getSession(id)
}
func (f *fakeSQL) SessionBySID(_ context.Context, sid string) (store.Session, error) {
	return f.getSession(sid)
}
func (f *fakeSQL) AddUsage(_ context.Context, ds []store.UsageDelta) error { return f.addUsage(ds) }
func (f *fakeSQL) Sweep(_ context.Context, sw Sweep, now time.Time, limit int) (int64, error) {
	return f.sweep(sw, now, limit)
}

var (
	t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	// elsewhere is a zone a driver might read times in.
	elsewhere = time.FixedZone("elsewhere", 5*3600+1800)
)

// isPlain reports whether err wraps nothing, so no store sentinel: what a
// refused argument must be.
func isPlain(err error) bool {
	return err != nil && errors.Unwrap(err) == nil
}

// TestCheckedRefuses checks that every refused argument is a plain error
// naming the backend, and that none reaches the SQL (whose methods would
// panic).
func TestCheckedRefuses(t *testing.T) {
	ctx := t.Context()
	c := Check("test", &fakeSQL{})
	fam := store.RefreshFamily{ID: "f", ExpiresAt: t0}
	tok := store.RefreshToken{Hash: "h", ExpiresAt: t0}
	otherTok := tok
	otherTok.FamilyID = "other"
	access := store.AccessRecord{JTI: "j", ExpiresAt: t0}
	issued := store.Issued{AccessJTI: "j", AccessExpiresAt: t0}
	second := func(_ any, err error) error { return err }
	calls := map[string]error{
		"SwapKeyRing duplicate ID": second(c.SwapKeyRing(ctx, 0, []store.Key{{ID: "k"}, {ID: "k"}})),
		"CreateCode no hash":       c.CreateCode(ctx, store.AuthCode{ExpiresAt: t0}),
		"CreateCode no expiry":     c.CreateCode(ctx, store.AuthCode{Hash: "h"}),
		"CreateCode used":          c.CreateCode(ctx, store.AuthCode{Hash: "h", ExpiresAt: t0, UsedAt: t0}),
		"CreateCode issued":        c.CreateCode(ctx, store.AuthCode{Hash: "h", ExpiresAt: t0, Issued: issued}),
		"RedeemCode no hash":       second(c.RedeemCode(ctx, "", issued, t0)),
		"RedeemCode no now":        second(c.RedeemCode(ctx, "h", issued, time.Time{})),
		"RedeemCode no jti":        second(c.RedeemCode(ctx, "h", store.Issued{AccessExpiresAt: t0}, t0)),
		"RedeemCode family alone":  second(c.RedeemCode(ctx, "h", store.Issued{AccessJTI: "j", AccessExpiresAt: t0, Family: &fam}, t0)),
		"RedeemCode FamilyID without family": second(c.RedeemCode(ctx, "h",
			store.Issued{FamilyID: "f", AccessJTI: "j", AccessExpiresAt: t0}, t0)),
		"RedeemCode token of another family": second(c.RedeemCode(ctx, "h",
			store.Issued{AccessJTI: "j", AccessExpiresAt: t0, Family: &fam, Refresh: &otherTok}, t0)),
		"CreateFamily no ID":              c.CreateFamily(ctx, store.RefreshFamily{ExpiresAt: t0}, tok),
		"CreateFamily token elsewhere":    c.CreateFamily(ctx, fam, otherTok),
		"RotateRefresh same hash":         second(c.RotateRefresh(ctx, "h", tok, access, t0)),
		"RotateRefresh no jti":            second(c.RotateRefresh(ctx, "old", tok, store.AccessRecord{ExpiresAt: t0}, t0)),
		"RotateRefresh no now":            second(c.RotateRefresh(ctx, "old", tok, access, time.Time{})),
		"RevokeFamily no ID":              c.RevokeFamily(ctx, "", t0),
		"RevokeFamiliesBySession no ID":   second(c.RevokeFamiliesBySession(ctx, "", t0)),
		"RecordAccess no expiry":          c.RecordAccess(ctx, store.AccessRecord{JTI: "j"}),
		"RevokeAccess no jti":             c.RevokeAccess(ctx, "", t0),
		"CreateSession no ID":             c.CreateSession(ctx, store.Session{ExpiresAt: t0}),
		"PutConsent no client":            c.PutConsent(ctx, store.Consent{Subject: "s"}),
		"AddUsage zero count":             c.AddUsage(ctx, []store.UsageDelta{{ClientID: "c", Audience: "a", LastIssued: t0}}),
		"NoteLoginFailure no time":        c.NoteLoginFailure(ctx, "k", time.Time{}),
		"LoginFailures no key":            second(c.LoginFailures(ctx, "", t0)),
		"ClearLoginFailures no key":       c.ClearLoginFailures(ctx, ""),
		"DeleteExpired no now":            second(c.DeleteExpired(ctx, time.Time{})),
		"RotateRefresh next without hash": second(c.RotateRefresh(ctx, "old", store.RefreshToken{ExpiresAt: t0}, access, t0)),
		"CreatePerson no subject":         c.CreatePerson(ctx, store.Person{Username: "u", CreatedAt: t0}),
		"CreatePerson no CreatedAt":       c.CreatePerson(ctx, store.Person{Subject: "u", Username: "u"}),
		"RecordSignIn local":              second(c.RecordSignIn(ctx, store.Person{Subject: "u", Username: "u"}, t0)),
		"RecordSignIn no now":             second(c.RecordSignIn(ctx, store.Person{Subject: "s:u", Source: "s", Username: "u"}, time.Time{})),
		"UpdatePerson no UpdatedAt":       c.UpdatePerson(ctx, store.Person{Subject: "u", Username: "u"}),
		"DeletePerson no subject":         c.DeletePerson(ctx, ""),
		"UseOnce no key":                  c.UseOnce(ctx, "", t0, t0),
		"UseOnce no expiry":               c.UseOnce(ctx, "k", time.Time{}, t0),
	}
	for name, err := range calls {
		if !isPlain(err) || !strings.HasPrefix(err.Error(), "test: ") {
			t.Errorf("%s = %v, want a plain error prefixed %q", name, err, "test: ")
		}
	}
}

// TestCheckedShapes checks both directions: what an SQL gets is in UTC
// milliseconds, and what it returns (any zone, empty lists) comes back in
// the contract's shape.
func TestCheckedShapes(t *testing.T) {
	ctx := t.Context()
	fine := t0.Add(1234567 * time.Nanosecond).In(elsewhere) // 1.234567ms past t0
	var got store.AuthCode
	f := &fakeSQL{
		createCode: func(c store.AuthCode) error { got = c; return nil },
		getCode: func(string) (store.AuthCode, error) {
			return store.AuthCode{Hash: "h", Scopes: []string{}, Audience: []string{"a"}, ExpiresAt: fine}, nil
		},
	}
	c := Check("test", f)
	if err := c.CreateCode(ctx, store.AuthCode{Hash: "h", ExpiresAt: fine, AuthTime: fine}); err != nil {
		t.Fatal(err)
	}
	want := t0.Add(time.Millisecond)
	if got.ExpiresAt != want || got.AuthTime != want || !got.CreatedAt.IsZero() {
		t.Errorf("SQL got ExpiresAt %v, AuthTime %v, CreatedAt %v; want %v, %v and the zero time",
			got.ExpiresAt, got.AuthTime, got.CreatedAt, want, want)
	}
	code, err := c.GetCode(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	if code.Scopes != nil || len(code.Audience) != 1 || code.ExpiresAt != want || !code.UsedAt.IsZero() {
		t.Errorf("GetCode = %+v; want nil Scopes, one audience, ExpiresAt %v in UTC", code, want)
	}
}

// TestCheckedRecordSignIn: the SQL gets the person with every time set to
// the stored now and nothing an administrator owns, and the row it
// returns comes back shaped.
func TestCheckedRecordSignIn(t *testing.T) {
	fine := t0.Add(1234567 * time.Nanosecond).In(elsewhere)
	want := t0.Add(time.Millisecond)
	var got store.Person
	c := Check("test", &fakeSQL{signIn: func(p store.Person) (store.Person, error) {
		got = p
		p.Groups, p.Claims, p.CreatedAt = []string{}, []byte{}, p.CreatedAt.In(elsewhere)
		return p, nil
	}})
	p, err := c.RecordSignIn(t.Context(), store.Person{Subject: "s:u", Source: "s", Username: "u",
		PasswordHash: "h", Disabled: true, CreatedAt: t0.Add(-time.Hour)}, fine)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != want || got.UpdatedAt != want || got.LastSignIn != want || got.PasswordHash != "" || got.Disabled {
		t.Errorf("SQL got %+v; want every time %v, no password hash, not disabled", got, want)
	}
	if p.Groups != nil || p.Claims != nil || p.CreatedAt != want {
		t.Errorf("RecordSignIn = %+v; want nil Groups and Claims, CreatedAt %v in UTC", p, want)
	}
}

func TestCheckedRedeemCode(t *testing.T) {
	ctx := t.Context()
	row := store.AuthCode{Hash: "h", ExpiresAt: t0.Add(time.Minute).In(elsewhere),
		Issued: store.Issued{FamilyID: "first", AccessJTI: "j0"}}
	var result error
	var got Redemption
	c := Check("test", &fakeSQL{redeem: func(r Redemption) (store.AuthCode, error) {
		got = r
		return row, result
	}})
	fam := store.RefreshFamily{ID: "fam", ExpiresAt: t0.Add(time.Hour)}
	tok := store.RefreshToken{Hash: "r", ExpiresAt: t0.Add(time.Hour)}
	issued := store.Issued{AccessJTI: "j", AccessExpiresAt: t0.Add(time.Hour), Family: &fam, Refresh: &tok}
	now := t0.Add(time.Second + 500*time.Microsecond)

	code, err := c.RedeemCode(ctx, "h", issued, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Issued.FamilyID != "fam" || got.Issued.Refresh.FamilyID != "fam" || got.Now != t0.Add(time.Second) {
		t.Errorf("SQL got %+v (Refresh %+v); want FamilyIDs filled and now truncated", got, got.Issued.Refresh)
	}
	if tok.FamilyID != "" {
		t.Errorf("the caller's token was changed: FamilyID %q", tok.FamilyID)
	}
	if code.UsedAt != t0.Add(time.Second) || code.Issued.FamilyID != "fam" || code.Issued.AccessJTI != "j" ||
		code.Issued.Family != nil || code.ExpiresAt.Location() != time.UTC {
		t.Errorf("RedeemCode = %+v; want it used at now with what it issued, in UTC", code)
	}

	result = fmt.Errorf("wrapped: %w", store.ErrCodeUsed)
	if code, err := c.RedeemCode(ctx, "h", issued, now); !errors.Is(err, store.ErrCodeUsed) || code.Issued.FamilyID != "first" {
		t.Errorf("replay = %+v, %v; want the stored code with ErrCodeUsed", code, err)
	}
	result = store.ErrExpired
	if code, err := c.RedeemCode(ctx, "h", issued, now); !errors.Is(err, store.ErrExpired) || code.Hash != "" {
		t.Errorf("expired = %+v, %v; want the zero code with ErrExpired", code, err)
	}
}

func TestRedemptionDecide(t *testing.T) {
	r := Redemption{Now: t0}
	for _, tc := range []struct {
		name string
		code store.AuthCode
		want error
	}{
		{"live", store.AuthCode{ExpiresAt: t0.Add(time.Millisecond)}, nil},
		{"at expiry", store.AuthCode{ExpiresAt: t0}, store.ErrExpired},
		// A replay is reported however late it comes.
		{"used and expired", store.AuthCode{ExpiresAt: t0, UsedAt: t0.Add(-time.Second)}, store.ErrCodeUsed},
	} {
		if err := r.Decide(tc.code); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Decide = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRotationDecide(t *testing.T) {
	live := store.RefreshFamily{ID: "fam", ExpiresAt: t0.Add(time.Hour)}
	tok := store.RefreshToken{Hash: "old", FamilyID: "fam", ExpiresAt: t0.Add(time.Hour)}
	r := Rotation{Next: store.RefreshToken{Hash: "new"}, Access: store.AccessRecord{JTI: "j"}, Now: t0, backend: "test"}

	next, access, err := r.Decide(tok, live)
	if err != nil || next.FamilyID != "fam" || access.FamilyID != "fam" {
		t.Errorf("Decide = %+v, %+v, %v; want both filled with fam", next, access, err)
	}
	wrong := r
	wrong.Access.FamilyID = "other"
	if _, _, err := wrong.Decide(tok, live); !isPlain(err) || !strings.HasPrefix(err.Error(), "test: ") {
		t.Errorf("Decide with another family = %v, want a plain error", err)
	}

	revoked, expired := live, live
	revoked.RevokedAt = t0.Add(-time.Minute)
	expired.ExpiresAt = t0
	rotated := tok
	rotated.RotatedAt = t0.Add(-time.Minute)
	for _, tc := range []struct {
		name string
		tok  store.RefreshToken
		fam  store.RefreshFamily
		want error
	}{
		// The contract's order: revoked, then expired, then reuse.
		{"revoked and rotated", rotated, revoked, store.ErrRevoked},
		{"expired family, rotated token", rotated, expired, store.ErrExpired},
		{"rotated", rotated, live, store.ErrReused},
	} {
		if _, _, err := wrong.Decide(tc.tok, tc.fam); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decide = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCheckedRotateRefreshResult(t *testing.T) {
	ctx := t.Context()
	fam := store.RefreshFamily{ID: "fam", Scopes: []string{}, RevokedAt: t0.In(elsewhere)}
	var result error
	c := Check("test", &fakeSQL{rotate: func(Rotation) (store.RefreshFamily, error) { return fam, result }})
	next := store.RefreshToken{Hash: "new", ExpiresAt: t0}
	access := store.AccessRecord{JTI: "j", ExpiresAt: t0}
	for _, tc := range []struct {
		err   error
		keeps bool
	}{
		{nil, true}, {store.ErrReused, true}, {store.ErrRevoked, true}, {store.ErrExpired, true},
		{store.ErrConflict, false}, {errors.New("boom"), false},
	} {
		result = tc.err
		got, err := c.RotateRefresh(ctx, "old", next, access, t0)
		if !errors.Is(err, tc.err) {
			t.Errorf("error %v came back as %v", tc.err, err)
		}
		if (got.ID != "") != tc.keeps {
			t.Errorf("with %v the family is %+v, want it returned: %v", tc.err, got, tc.keeps)
		}
		if tc.keeps && (got.Scopes != nil || got.RevokedAt.Location() != time.UTC) {
			t.Errorf("with %v the family is not shaped: %+v", tc.err, got)
		}
	}
}

func TestCheckedSessions(t *testing.T) {
	ctx := t.Context()
	var asked []string
	c := Check("test", &fakeSQL{getSession: func(id string) (store.Session, error) {
		asked = append(asked, id)
		return store.Session{ID: id, ExpiresAt: t0.In(elsewhere)}, nil
	}})
	if s, err := c.GetSession(ctx, "s", t0.Add(-time.Millisecond)); err != nil || s.ExpiresAt.Location() != time.UTC {
		t.Errorf("GetSession before expiry = %+v, %v; want the session in UTC", s, err)
	}
	if s, err := c.GetSession(ctx, "s", t0); !errors.Is(err, store.ErrExpired) || s.ID != "" {
		t.Errorf("GetSession at expiry = %+v, %v; want the zero Session and ErrExpired", s, err)
	}
	if _, err := c.SessionBySID(ctx, "short", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionBySID with a short sid = %v, want ErrNotFound", err)
	}
	if len(asked) != 2 {
		t.Errorf("the SQL was asked for %q; want the two GetSession calls only", asked)
	}
}

func TestCheckedAddUsage(t *testing.T) {
	ctx := t.Context()
	var got []store.UsageDelta
	c := Check("test", &fakeSQL{addUsage: func(ds []store.UsageDelta) error { got = ds; return nil }})
	// An empty slice never reaches the SQL (whose AddUsage is not called:
	// got stays nil).
	if err := c.AddUsage(ctx, nil); err != nil || got != nil {
		t.Fatalf("AddUsage(nil) = %v, SQL got %v", err, got)
	}
	late := t0.Add(time.Second + 999*time.Microsecond).In(elsewhere)
	if err := c.AddUsage(ctx, []store.UsageDelta{
		{ClientID: "c", Audience: "a", Count: 1, LastIssued: late},
		{ClientID: "c", Audience: "b", Count: 1, LastIssued: t0},
		{ClientID: "c", Audience: "a", Count: 2, LastIssued: t0},
	}); err != nil {
		t.Fatal(err)
	}
	want := []store.UsageDelta{
		{ClientID: "c", Audience: "a", Count: 3, LastIssued: t0.Add(time.Second)},
		{ClientID: "c", Audience: "b", Count: 1, LastIssued: t0},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SQL got %v, want %v", got, want)
	}
}

// TestCheckedDeleteExpired checks the sweep loop: every sweep in order,
// each until a batch comes back short, the total counted, and an error
// naming its sweep with what was removed before it.
func TestCheckedDeleteExpired(t *testing.T) {
	ctx := t.Context()
	var order []Sweep
	left := map[Sweep]int64{SweepAccess: 2*SweepBatch + 3, SweepSessions: SweepBatch, SweepLoginFailures: 1}
	f := &fakeSQL{sweep: func(sw Sweep, now time.Time, limit int) (int64, error) {
		if now != t0 || limit != SweepBatch {
			t.Errorf("Sweep(%v, %v, %d), want now %v and limit %d", sw, now, limit, t0, SweepBatch)
		}
		order = append(order, sw)
		n := min(left[sw], int64(limit))
		left[sw] -= n
		return n, nil
	}}
	c := Check("test", f)
	n, err := c.DeleteExpired(ctx, t0.Add(999*time.Microsecond))
	if err != nil || n != 3*SweepBatch+4 {
		t.Errorf("DeleteExpired = %d, %v; want %d", n, err, 3*SweepBatch+4)
	}
	wantOrder := []Sweep{SweepAccess, SweepAccess, SweepAccess, SweepTokens, SweepFamilyTokens, SweepFamilies,
		SweepCodes, SweepSessions, SweepSessions, SweepLoginFailures, SweepOnce, SweepRegisteredClients}
	if fmt.Sprint(order) != fmt.Sprint(wantOrder) {
		t.Errorf("sweeps ran as %v, want %v", order, wantOrder)
	}

	f.sweep = func(sw Sweep, _ time.Time, _ int) (int64, error) {
		if sw == SweepCodes {
			return 0, errors.New("disk on fire")
		}
		return 1, nil
	}
	n, err = c.DeleteExpired(ctx, t0)
	if n != 4 || err == nil || err.Error() != "test: delete expired authorization codes: disk on fire" {
		t.Errorf("DeleteExpired with a failing sweep = %d, %v; want 4 and the error naming it", n, err)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if n, err := c.DeleteExpired(done, t0); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired after cancel = %d, %v; want 0 and context.Canceled", n, err)
	}
}

func TestSweepNames(t *testing.T) {
	for sw := range Sweep(Sweeps) {
		if sw.String() == "" || sw.String() == "unknown sweep" {
			t.Errorf("sweep %d has no name", int(sw))
		}
	}
}

// BenchmarkCheckedRotateRefresh measures what Checked adds to the hottest
// write, over an SQL that does nothing.
func BenchmarkCheckedRotateRefresh(b *testing.B) {
	fam := store.RefreshFamily{ID: "fam"}
	c := Check("test", &fakeSQL{rotate: func(Rotation) (store.RefreshFamily, error) { return fam, nil }})
	next := store.RefreshToken{Hash: "new", ExpiresAt: t0}
	access := store.AccessRecord{JTI: "j", ExpiresAt: t0}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.RotateRefresh(ctx, "old", next, access, t0); err != nil {
			b.Fatal(err)
		}
	}
}
