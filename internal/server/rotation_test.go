package server_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/verify"
)

// TestVerifierFollowsRealRotation: an API's verifier, pointed at a real
// Gatehouse, accepts tokens signed before and after a key rotation without
// a restart; the new key is published before it signs, so no refetch is
// even needed for it.
func TestVerifierFollowsRealRotation(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: "order-status-api", MinRefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mint := func() string {
		tok, err := ccConfig(e, "order-sync-job", "sync-job-secret-change-me", url.Values{}, oauth2.AuthStyleInHeader).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	before := mint()
	if _, err := v.Verify(ctx, before); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if err := e.ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	after := mint()
	for name, tok := range map[string]string{"old key": before, "new key": after} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("%s after rotation: %v", name, err)
		}
	}
	// And the audience rule holds end to end.
	hr, err := verify.New(ctx, verify.Config{Issuer: e.srv.URL, Audience: "hr-api"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = hr.Verify(ctx, after)
	var ve *verify.Error
	if !asVerifyError(err, &ve) || ve.Check != verify.CheckAudience {
		t.Fatalf("hr-api accepted an order-sync-job token: %v", err)
	}
	if ve.Description() != "The audience 'order-sync-job order-status-api https://billing.example.com' is invalid" {
		t.Errorf("description %q", ve.Description())
	}
}

func asVerifyError(err error, target **verify.Error) bool {
	e, ok := err.(*verify.Error)
	if ok {
		*target = e
	}
	return ok
}
