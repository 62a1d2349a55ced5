package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// MergeUsage checks deltas against the AddUsage contract and merges those
// of the same pair (counts added, the later LastIssued kept), in the order
// pairs first appear. Backends call it so that every one refuses the same
// input and so that one statement never updates a row twice.
func MergeUsage(deltas []UsageDelta) ([]UsageDelta, error) {
	var errs []string
	type key struct{ client, aud string }
	index := make(map[key]int, len(deltas))
	out := make([]UsageDelta, 0, len(deltas))
	for i, d := range deltas {
		switch {
		case d.ClientID == "":
			errs = append(errs, fmt.Sprintf("delta %d: ClientID is empty", i))
		case d.Audience == "":
			errs = append(errs, fmt.Sprintf("delta %d: Audience is empty", i))
		case d.Count < 1:
			errs = append(errs, fmt.Sprintf("delta %d: Count is %d, want at least 1", i, d.Count))
		case d.LastIssued.IsZero():
			errs = append(errs, fmt.Sprintf("delta %d: LastIssued is the zero time", i))
		}
		if len(errs) > 0 {
			continue
		}
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
	if len(errs) > 0 {
		return nil, fmt.Errorf("add usage: %s", strings.Join(errs, "; "))
	}
	// Stored times are UTC milliseconds (see the package contract).
	for i := range out {
		out[i].LastIssued = out[i].LastIssued.UTC().Truncate(time.Millisecond)
	}
	return slices.Clip(out), nil
}
