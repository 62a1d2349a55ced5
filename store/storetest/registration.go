package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Registered client (store.ClientRegistrationStore) conformance tests.

func sampleRegistered(id string) store.RegisteredClient {
	return store.RegisteredClient{ID: id, Name: "Agent " + id, RedirectURIs: []string{"http://127.0.0.1:9/cb", "https://a.example/cb"},
		GrantTypes: []string{"authorization_code"}, AuthMethod: "none", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

// testRegisteredClients: a registered client round-trips, conflicts on
// its ID, is refused once expired, is moved on by a use, is listed in ID
// order and is removed by DeleteExpired.
func testRegisteredClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := sampleRegistered("dcr-b")
	a.JWKS = []byte(`{"keys": []}`)
	if err := s.CreateRegisteredClient(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRegisteredClient(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second create = %v, want ErrConflict", err)
	}
	got, err := s.GetRegisteredClient(ctx, "dcr-b", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != a.Name || !slices.Equal(got.RedirectURIs, a.RedirectURIs) || !slices.Equal(got.GrantTypes, a.GrantTypes) ||
		string(got.JWKS) != string(a.JWKS) || !got.CreatedAt.Equal(ms(t0)) || !got.ExpiresAt.Equal(ms(a.ExpiresAt)) || !got.LastUsedAt.IsZero() {
		t.Errorf("round trip: %+v", got)
	}
	if _, err := s.GetRegisteredClient(ctx, "dcr-none", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("absent = %v", err)
	}
	if _, err := s.GetRegisteredClient(ctx, "dcr-b", a.ExpiresAt); !errors.Is(err, store.ErrExpired) {
		t.Errorf("at expiry = %v, want ErrExpired", err)
	}
	if err := s.TouchRegisteredClient(ctx, "dcr-b", t0.Add(time.Minute), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRegisteredClient(ctx, "dcr-b", t0.Add(2*time.Hour)); err != nil || !got.LastUsedAt.Equal(ms(t0.Add(time.Minute))) {
		t.Errorf("after a use: %+v %v", got, err)
	}
	if err := s.TouchRegisteredClient(ctx, "dcr-none", t0, t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("touch absent = %v", err)
	}
	if err := s.CreateRegisteredClient(ctx, sampleRegistered("dcr-a")); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListRegisteredClients(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "dcr-a" || list[1].ID != "dcr-b" {
		t.Errorf("list: %v %v", list, err)
	}
	if _, err := s.DeleteExpired(ctx, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, _ = s.ListRegisteredClients(ctx)
	if len(list) != 1 || list[0].ID != "dcr-b" {
		t.Errorf("after DeleteExpired: %v", list)
	}
	if err := s.CreateRegisteredClient(ctx, store.RegisteredClient{ID: "x", CreatedAt: t0}); err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("missing ExpiresAt = %v", err)
	}
}
