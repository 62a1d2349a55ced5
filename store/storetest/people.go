package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// People (store.PeopleStore) and single-use value (store.OnceStore)
// conformance tests.

// sampleLocal is a fully populated local user.
func sampleLocal(username string) store.Person {
	return store.Person{
		Subject:      username,
		Username:     username,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		// Kept as given: spacing, key order and all.
		Claims:    []byte(`{"name": "Alice Liddell",  "email":"alice@example.com"}`),
		Groups:    []string{"staff", "Admins", "staff"},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// sampleSourced is a person an identity source "corp" vouched for.
func sampleSourced(sub, username string) store.Person {
	return store.Person{
		Subject:  "corp:" + sub,
		Source:   "corp",
		Username: username,
		Claims:   []byte(`{"email":"` + username + `@corp.example"}`),
		Groups:   []string{"engineering"},
	}
}

func assertPerson(t *testing.T, got, want store.Person) {
	t.Helper()
	w := "person " + want.Subject
	assertString(t, w+" Subject", got.Subject, want.Subject)
	assertString(t, w+" Source", got.Source, want.Source)
	assertString(t, w+" Username", got.Username, want.Username)
	assertString(t, w+" PasswordHash", got.PasswordHash, want.PasswordHash)
	if len(want.Claims) == 0 {
		if got.Claims != nil {
			t.Errorf("%s Claims = %q, want nil (empty reads back as nil)", w, got.Claims)
		}
	} else if string(got.Claims) != string(want.Claims) {
		t.Errorf("%s Claims = %q, want %q", w, got.Claims, want.Claims)
	}
	assertList(t, w+" Groups", got.Groups, want.Groups)
	if got.Disabled != want.Disabled {
		t.Errorf("%s Disabled = %v, want %v", w, got.Disabled, want.Disabled)
	}
	assertTime(t, w+" CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, w+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	assertTime(t, w+" LastSignIn", got.LastSignIn, want.LastSignIn)
}

func mustGetPerson(t *testing.T, s store.Store, subject string) store.Person {
	t.Helper()
	p, err := s.GetPerson(t.Context(), subject)
	if err != nil {
		t.Fatalf("GetPerson(%q): %v", subject, err)
	}
	return p
}

// testPersonRoundTrip: every field of a created person reads back, by
// subject and (local users) by username; absent people are ErrNotFound.
func testPersonRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := sampleLocal("alice")
	alice.Disabled = true
	alice.UpdatedAt = t0.Add(time.Second)
	alice.LastSignIn = t0.Add(-time.Hour)
	if err := s.CreatePerson(ctx, alice); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	assertPerson(t, mustGetPerson(t, s, "alice"), alice)
	got, err := s.LocalUser(ctx, "alice")
	if err != nil {
		t.Fatalf("LocalUser: %v", err)
	}
	assertPerson(t, got, alice)

	// Empty lists and claims, nil or not, read back as nil; zero times
	// as zero.
	bare := store.Person{Subject: "bare", Username: "bare", Claims: []byte{}, Groups: []string{}, CreatedAt: t0}
	if err := s.CreatePerson(ctx, bare); err != nil {
		t.Fatalf("CreatePerson(bare): %v", err)
	}
	assertPerson(t, mustGetPerson(t, s, "bare"), bare)

	if _, err := s.GetPerson(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.LocalUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.LocalUser(ctx, "ALICE"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser(ALICE) = %v, want ErrNotFound (usernames compare exactly)", err)
	}
	// A person from a source is not a local user, whatever their name.
	if _, err := s.RecordSignIn(ctx, sampleSourced("42", "carol"), t0); err != nil {
		t.Fatalf("RecordSignIn: %v", err)
	}
	if _, err := s.LocalUser(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser(carol from a source) = %v, want ErrNotFound", err)
	}
}

// testPersonConflict: a taken subject, or a local username another local
// user has, is ErrConflict and changes nothing; people from sources may
// share a username with anyone.
func testPersonConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := sampleLocal("alice")
	if err := s.CreatePerson(ctx, alice); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	taken := sampleLocal("alice")
	taken.Username = "alice2"
	taken.PasswordHash = "other"
	if err := s.CreatePerson(ctx, taken); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreatePerson with a taken subject = %v, want ErrConflict", err)
	}
	sameName := sampleLocal("alice")
	sameName.Subject = "alice-again"
	if err := s.CreatePerson(ctx, sameName); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreatePerson with a taken local username = %v, want ErrConflict", err)
	}
	if _, err := s.GetPerson(ctx, "alice-again"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson after a refused create = %v, want ErrNotFound", err)
	}
	assertPerson(t, mustGetPerson(t, s, "alice"), alice)
	if _, err := s.LocalUser(ctx, "alice2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser(alice2) after a refused create = %v, want ErrNotFound", err)
	}

	// Sourced people named alice, by CreatePerson and RecordSignIn.
	sourced := sampleSourced("1", "alice")
	sourced.CreatedAt = t0
	if err := s.CreatePerson(ctx, sourced); err != nil {
		t.Errorf("CreatePerson of a sourced alice: %v", err)
	}
	if _, err := s.RecordSignIn(ctx, sampleSourced("2", "alice"), t0); err != nil {
		t.Errorf("RecordSignIn of another sourced alice: %v", err)
	}
	if got, err := s.LocalUser(ctx, "alice"); err != nil || got.Subject != "alice" {
		t.Errorf("LocalUser(alice) = %q, %v; want the local alice", got.Subject, err)
	}
}

// testPersonRequired: the required fields are refused with plain errors
// before anything changes.
func testPersonRequired(t *testing.T, s store.Store) {
	ctx := t.Context()
	for name, p := range map[string]store.Person{
		"Subject":   {Username: "u", CreatedAt: t0},
		"Username":  {Subject: "u", CreatedAt: t0},
		"CreatedAt": {Subject: "u", Username: "u"},
	} {
		if err := s.CreatePerson(ctx, p); err == nil || isSentinel(err) {
			t.Errorf("CreatePerson without %s = %v, want a plain error", name, err)
		}
	}
	if _, err := s.GetPerson(ctx, "u"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson after refused creates = %v, want ErrNotFound", err)
	}
	if err := s.CreatePerson(ctx, sampleLocal("u")); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	noTime := sampleLocal("u")
	noTime.UpdatedAt = time.Time{}
	noTime.Disabled = true
	if err := s.UpdatePerson(ctx, noTime); err == nil || isSentinel(err) {
		t.Errorf("UpdatePerson without UpdatedAt = %v, want a plain error", err)
	}
	if mustGetPerson(t, s, "u").Disabled {
		t.Error("a refused UpdatePerson changed the person")
	}
	local := sampleSourced("x", "x")
	local.Source = ""
	for name, c := range map[string]struct {
		p   store.Person
		now time.Time
	}{
		"Source":  {local, t0},
		"Subject": {store.Person{Source: "corp", Username: "x"}, t0},
		"now":     {sampleSourced("x", "x"), time.Time{}},
	} {
		if _, err := s.RecordSignIn(ctx, c.p, c.now); err == nil || isSentinel(err) {
			t.Errorf("RecordSignIn without %s = %v, want a plain error", name, err)
		}
	}
	if _, err := s.GetPerson(ctx, "corp:x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson after refused sign-ins = %v, want ErrNotFound", err)
	}
	if err := s.UseOnce(ctx, "", t0.Add(time.Minute), t0); err == nil || isSentinel(err) {
		t.Errorf("UseOnce without a key = %v, want a plain error", err)
	}
	if err := s.UseOnce(ctx, "k", time.Time{}, t0); err == nil || isSentinel(err) {
		t.Errorf("UseOnce without expiresAt = %v, want a plain error", err)
	}
	if err := s.UseOnce(ctx, "k", t0.Add(time.Minute), t0); err != nil {
		t.Errorf("UseOnce(k) after refused calls = %v, want nil (nothing recorded)", err)
	}
}

// testRecordSignIn: the first sign-in creates the person, later ones
// replace what the source says and never what the administrator set.
func testRecordSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := sampleSourced("42", "bob")
	got, err := s.RecordSignIn(ctx, first, t0)
	if err != nil {
		t.Fatalf("RecordSignIn: %v", err)
	}
	want := first
	want.CreatedAt, want.UpdatedAt, want.LastSignIn = t0, t0, t0
	assertPerson(t, got, want)
	assertPerson(t, mustGetPerson(t, s, "corp:42"), want)

	// The administrator disables bob.
	disabled := want
	disabled.Disabled = true
	disabled.UpdatedAt = t0.Add(time.Minute)
	if err := s.UpdatePerson(ctx, disabled); err != nil {
		t.Fatalf("UpdatePerson: %v", err)
	}

	t1 := t0.Add(time.Hour)
	again := store.Person{Subject: "corp:42", Source: "corp", Username: "robert",
		Claims: []byte(`{"email":"robert@corp.example"}`), Groups: []string{"ops", "engineering"},
		PasswordHash: "must-not-be-stored", CreatedAt: t1}
	got, err = s.RecordSignIn(ctx, again, t1)
	if err != nil {
		t.Fatalf("RecordSignIn again: %v", err)
	}
	want = again
	want.PasswordHash, want.Disabled = "", true
	want.CreatedAt, want.UpdatedAt, want.LastSignIn = t0, t1, t1
	assertPerson(t, got, want)
	assertPerson(t, mustGetPerson(t, s, "corp:42"), want)

	// A sign-in without claims or groups clears them.
	t2 := t1.Add(time.Hour)
	got, err = s.RecordSignIn(ctx, store.Person{Subject: "corp:42", Source: "corp", Username: "robert"}, t2)
	if err != nil {
		t.Fatalf("RecordSignIn without claims: %v", err)
	}
	want.Claims, want.Groups, want.UpdatedAt, want.LastSignIn = nil, nil, t2, t2
	assertPerson(t, got, want)

	// A subject held by a local user, or by another source, is not
	// taken over.
	alice := sampleLocal("alice")
	if err := s.CreatePerson(ctx, alice); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	if _, err := s.RecordSignIn(ctx, store.Person{Subject: "alice", Source: "corp", Username: "alice"}, t2); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RecordSignIn over a local user = %v, want ErrConflict", err)
	}
	assertPerson(t, mustGetPerson(t, s, "alice"), alice)
	if _, err := s.RecordSignIn(ctx, store.Person{Subject: "corp:42", Source: "other", Username: "x"}, t2); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RecordSignIn over another source's person = %v, want ErrConflict", err)
	}
	assertPerson(t, mustGetPerson(t, s, "corp:42"), want)
}

// testUpdatePerson: the mutable fields are replaced; the rest is kept.
func testUpdatePerson(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := sampleLocal("alice")
	alice.LastSignIn = t0.Add(time.Minute)
	if err := s.CreatePerson(ctx, alice); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	if err := s.CreatePerson(ctx, sampleLocal("bob")); err != nil {
		t.Fatalf("CreatePerson(bob): %v", err)
	}
	t1 := t0.Add(time.Hour)
	upd := store.Person{Subject: "alice", Source: "ignored", Username: "alice.l", PasswordHash: "new-hash",
		Claims: []byte(`{"name":"A"}`), Groups: []string{"x"}, Disabled: true,
		CreatedAt: t1, UpdatedAt: t1, LastSignIn: t1}
	if err := s.UpdatePerson(ctx, upd); err != nil {
		t.Fatalf("UpdatePerson: %v", err)
	}
	want := upd
	want.Source, want.CreatedAt, want.LastSignIn = "", alice.CreatedAt, alice.LastSignIn
	assertPerson(t, mustGetPerson(t, s, "alice"), want)
	if got, err := s.LocalUser(ctx, "alice.l"); err != nil || got.Subject != "alice" {
		t.Errorf("LocalUser(new name) = %q, %v", got.Subject, err)
	}
	if _, err := s.LocalUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser(old name) = %v, want ErrNotFound", err)
	}

	// Taking bob's name is refused and changes nothing.
	clash := want
	clash.Username, clash.Disabled, clash.UpdatedAt = "bob", false, t1.Add(time.Hour)
	if err := s.UpdatePerson(ctx, clash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdatePerson to a taken local username = %v, want ErrConflict", err)
	}
	assertPerson(t, mustGetPerson(t, s, "alice"), want)

	// A person from a source may be renamed to anything.
	if _, err := s.RecordSignIn(ctx, sampleSourced("1", "carol"), t0); err != nil {
		t.Fatalf("RecordSignIn: %v", err)
	}
	p := mustGetPerson(t, s, "corp:1")
	p.Username, p.UpdatedAt = "bob", t1
	if err := s.UpdatePerson(ctx, p); err != nil {
		t.Errorf("UpdatePerson of a sourced person to bob: %v", err)
	}
	if err := s.UpdatePerson(ctx, store.Person{Subject: "nobody", Username: "n", UpdatedAt: t1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdatePerson(unknown) = %v, want ErrNotFound", err)
	}
}

// testDeletePerson: a deleted person is gone, and their local username
// free again.
func testDeletePerson(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		if err := s.CreatePerson(ctx, sampleLocal(u)); err != nil {
			t.Fatalf("CreatePerson(%s): %v", u, err)
		}
	}
	if err := s.DeletePerson(ctx, "alice"); err != nil {
		t.Fatalf("DeletePerson: %v", err)
	}
	if _, err := s.GetPerson(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPerson after delete = %v, want ErrNotFound", err)
	}
	if _, err := s.LocalUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalUser after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeletePerson(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeletePerson again = %v, want ErrNotFound", err)
	}
	assertPerson(t, mustGetPerson(t, s, "bob"), sampleLocal("bob"))
	again := sampleLocal("alice")
	again.Subject = "alice-2"
	if err := s.CreatePerson(ctx, again); err != nil {
		t.Errorf("CreatePerson with a deleted user's username: %v", err)
	}
}

// testListPeople: everyone, local and sourced, in byte order of Subject;
// nobody is an empty list.
func testListPeople(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ps, err := s.ListPeople(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("ListPeople of an empty store = %v, %v", ps, err)
	}
	for _, u := range []string{"alice", "Zed", "B"} {
		if err := s.CreatePerson(ctx, sampleLocal(u)); err != nil {
			t.Fatalf("CreatePerson(%s): %v", u, err)
		}
	}
	if _, err := s.RecordSignIn(ctx, sampleSourced("7", "dora"), t0); err != nil {
		t.Fatalf("RecordSignIn: %v", err)
	}
	ps, err := s.ListPeople(ctx)
	if err != nil {
		t.Fatalf("ListPeople: %v", err)
	}
	want := []string{"B", "Zed", "alice", "corp:7"}
	var got []string
	for _, p := range ps {
		got = append(got, p.Subject)
	}
	assertList(t, "ListPeople subjects", got, want)
	if len(ps) == 4 {
		assertPerson(t, ps[2], sampleLocal("alice"))
		assertPerson(t, ps[3], mustGetPerson(t, s, "corp:7"))
	}
}

// testUseOnce: a key is refused while its record is live, and free again
// from its expiry on.
func testUseOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Minute)
	if err := s.UseOnce(ctx, "state-1", exp, t0); err != nil {
		t.Fatalf("UseOnce: %v", err)
	}
	for _, now := range []time.Time{t0, exp.Add(-time.Millisecond)} {
		if err := s.UseOnce(ctx, "state-1", exp.Add(time.Hour), now); !errors.Is(err, store.ErrConflict) {
			t.Errorf("UseOnce again at expiry-%v = %v, want ErrConflict", exp.Sub(now), err)
		}
	}
	if err := s.UseOnce(ctx, "State-1", exp, t0); err != nil {
		t.Errorf("UseOnce of another key (case differs) = %v", err)
	}
	// At expiry the key may be used again, with its new expiry; the
	// refused calls above did not extend the old one.
	if err := s.UseOnce(ctx, "state-1", exp.Add(time.Minute), ms(exp)); err != nil {
		t.Errorf("UseOnce at expiry = %v, want nil", err)
	}
	if err := s.UseOnce(ctx, "state-1", exp.Add(time.Hour), exp.Add(30*time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce within the new expiry = %v, want ErrConflict", err)
	}
}

// testUseOnceConcurrent: of many concurrent uses of one key exactly one
// succeeds.
func testUseOnceConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range n {
		wg.Go(func() {
			err := s.UseOnce(ctx, "jti-race", t0.Add(time.Minute), t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("UseOnce: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent UseOnce calls succeeded, want 1", wins, n)
	}
}

// testOnceDeleteExpired: DeleteExpired removes the records expired at now
// and keeps the live ones, and never removes people.
func testOnceDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	for key, exp := range map[string]time.Time{"old": t0.Add(time.Minute), "boundary": now, "live": now.Add(time.Millisecond)} {
		if err := s.UseOnce(ctx, key, exp, t0); err != nil {
			t.Fatalf("UseOnce(%s): %v", key, err)
		}
	}
	if err := s.CreatePerson(ctx, sampleLocal("alice")); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil || n != 2 {
		t.Errorf("DeleteExpired = %d, %v; want 2 (old, boundary)", n, err)
	}
	if err := s.UseOnce(ctx, "live", now.Add(time.Hour), now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UseOnce(live) after DeleteExpired = %v, want ErrConflict", err)
	}
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("DeleteExpired again = %d, %v; want 0", n, err)
	}
	mustGetPerson(t, s, "alice")
}
