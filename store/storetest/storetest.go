// Package storetest is the one conformance suite every store backend must
// pass. A backend's own test calls Run with a function that opens a fresh,
// empty store; heavy backends (PostgreSQL) gate that test behind an
// environment variable, but run this same suite.
//
// The suite checks the written contract of package store, not an
// implementation: each subtest asserts real values and fails when a
// backend gets them wrong. Each aggregate has its own file of tests
// (keyring.go, code.go, refresh.go, revocation.go, session.go, gc.go,
// usage.go, loginthrottle.go, people.go); a new aggregate adds a file and its entries
// to Run.
package storetest

import (
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call and arrange (with t.Cleanup) for it to be closed; it is called
// once per subtest so subtests cannot see each other's data.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"KeyRingEmpty", testKeyRingEmpty},
		{"KeyRingRoundTrip", testKeyRingRoundTrip},
		{"KeyRingReplace", testKeyRingReplace},
		{"KeyRingActivePerAlg", testKeyRingActivePerAlg},
		{"KeyRingEmptySwap", testKeyRingEmptySwap},
		{"KeyRingConflict", testKeyRingConflict},
		{"KeyRingDuplicateID", testKeyRingDuplicateID},
		{"KeyRingConcurrentSwap", testKeyRingConcurrentSwap},
		{"KeyRingVersion", testKeyRingVersion},
		{"CodeRoundTrip", testCodeRoundTrip},
		{"CodeDuplicate", testCodeDuplicate},
		{"CodeRequiredFields", testCodeRequiredFields},
		{"CodeRedeem", testCodeRedeem},
		{"CodeRedeemWithoutRefresh", testCodeRedeemWithoutRefresh},
		{"CodeReplay", testCodeReplay},
		{"CodeExpired", testCodeExpired},
		{"CodeRedeemUnknown", testCodeRedeemUnknown},
		{"CodeRedeemAtomic", testCodeRedeemAtomic},
		{"CodeConcurrentRedeem", testCodeConcurrentRedeem},
		{"RefreshRoundTrip", testRefreshRoundTrip},
		{"RefreshCreateConflict", testRefreshCreateConflict},
		{"RefreshRotate", testRefreshRotate},
		{"RefreshRotateArgs", testRefreshRotateArgs},
		{"RefreshReuse", testRefreshReuse},
		{"RefreshExpired", testRefreshExpired},
		{"RefreshRevoke", testRefreshRevoke},
		{"RefreshConcurrentRotate", testRefreshConcurrentRotate},
		{"RevokeFamiliesBySession", testRevokeFamiliesBySession},
		{"AccessRevocation", testAccessRevocation},
		{"AccessRevocationExpiry", testAccessRevocationExpiry},
		{"Session", testSession},
		{"Consent", testConsent},
		{"DeleteExpired", testDeleteExpired},
		{"UsageEmpty", testUsageEmpty},
		{"UsageAdd", testUsageAdd},
		{"UsageInvalid", testUsageInvalid},
		{"UsageConcurrent", testUsageConcurrent},
		{"LoginFailuresCount", testLoginFailuresCount},
		{"LoginFailuresClear", testLoginFailuresClear},
		{"LoginFailuresInvalid", testLoginFailuresInvalid},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"LoginFailuresDeleteExpired", testLoginFailuresDeleteExpired},
		{"PersonRoundTrip", testPersonRoundTrip},
		{"PersonConflict", testPersonConflict},
		{"PersonRequired", testPersonRequired},
		{"RecordSignIn", testRecordSignIn},
		{"UpdatePerson", testUpdatePerson},
		{"DeletePerson", testDeletePerson},
		{"ListPeople", testListPeople},
		{"UseOnce", testUseOnce},
		{"UseOnceConcurrent", testUseOnceConcurrent},
		{"OnceDeleteExpired", testOnceDeleteExpired},
		{"RegisteredClients", testRegisteredClients},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
