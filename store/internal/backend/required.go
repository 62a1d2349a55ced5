package backend

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// required collects the contract's argument checks for one operation, so
// a caller's mistake is an error that names the field rather than a
// constraint failure (or, for times, a row that never expires). Only
// Checked and the Decide rules use it: a backend's SQL never sees
// arguments that fail it.
type required struct {
	backend string // "sqlite", "postgres": the error prefix
	op      string
	errs    []string
}

// nonEmpty requires a non-empty string.
func (r *required) nonEmpty(name, v string) {
	if v == "" {
		r.errs = append(r.errs, name+" is empty")
	}
}

// nonZero requires a non-zero time.
func (r *required) nonZero(name string, v time.Time) {
	if v.IsZero() {
		r.errs = append(r.errs, name+" is the zero time")
	}
}

// check records msg unless ok.
func (r *required) check(ok bool, msg string) {
	if !ok {
		r.errs = append(r.errs, msg)
	}
}

// failf records a problem described by format and args.
func (r *required) failf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// err is every problem found, or nil. None of them is a store sentinel:
// a refused argument is the caller's bug, not a state of the store.
func (r *required) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s: %s", r.backend, r.op, strings.Join(r.errs, "; "))
}

// fillFamilyID applies the contract's rule for FamilyID fields the store
// can infer: empty is filled in, anything else must agree.
func (r *required) fillFamilyID(name string, field *string, familyID string) {
	switch *field {
	case "":
		*field = familyID
	case familyID:
	default:
		r.failf("%s is %q, want %q (or empty)", name, *field, familyID)
	}
}

// family checks a new refresh family and its first token, filling in the
// token's FamilyID.
func (r *required) family(f store.RefreshFamily, first *store.RefreshToken) {
	r.nonEmpty("family ID", f.ID)
	r.nonZero("family ExpiresAt", f.ExpiresAt)
	r.nonEmpty("refresh token Hash", first.Hash)
	r.nonZero("refresh token ExpiresAt", first.ExpiresAt)
	r.fillFamilyID("refresh token FamilyID", &first.FamilyID, f.ID)
}

// access checks an access record (RecordAccess, RevokeAccess).
func (r *required) access(a store.AccessRecord) {
	r.nonEmpty("JTI", a.JTI)
	r.nonZero("ExpiresAt", a.ExpiresAt)
}

// mergeUsage checks deltas against the AddUsage contract and merges those
// of the same pair (counts added, the later LastIssued kept), in the order
// pairs first appear, so that one statement never updates a row twice.
func (r *required) mergeUsage(deltas []store.UsageDelta) []store.UsageDelta {
	type key struct{ client, aud string }
	index := make(map[key]int, len(deltas))
	out := make([]store.UsageDelta, 0, len(deltas))
	for i, d := range deltas {
		switch {
		case d.ClientID == "":
			r.failf("delta %d: ClientID is empty", i)
		case d.Audience == "":
			r.failf("delta %d: Audience is empty", i)
		case d.Count < 1:
			r.failf("delta %d: Count is %d, want at least 1", i, d.Count)
		case d.LastIssued.IsZero():
			r.failf("delta %d: LastIssued is the zero time", i)
		}
		if len(r.errs) > 0 {
			continue // only the problems are reported now
		}
		d.LastIssued = stored(d.LastIssued)
		k := key{d.ClientID, d.Audience}
		if j, ok := index[k]; ok {
			out[j].Count += d.Count
			if d.LastIssued.After(out[j].LastIssued) {
				out[j].LastIssued = d.LastIssued
			}
			continue
		}
		index[k] = len(out)
		out = append(out, d)
	}
	return slices.Clip(out)
}
