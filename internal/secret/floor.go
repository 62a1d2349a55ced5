package secret

import (
	"context"
	"strings"
	"sync"
	"time"
)

// ParamSet names the cost parameters of a stored value: "plain",
// "$argon2id$v=19$m=19456,t=2,p=1" or "$2a$10". Two stored values with one
// ParamSet cost the same to check.
func ParamSet(stored string) string {
	switch KindOf(stored) {
	case Argon2id:
		if parts := strings.SplitN(stored, "$", 5); len(parts) == 5 {
			return strings.Join(parts[:4], "$")
		}
	case Bcrypt:
		if len(stored) >= 6 {
			return stored[:6]
		}
	}
	return "plain"
}

// Floor makes every failed credential check of one kind (passwords, or
// client secrets) take as long as a check of the slowest stored form in
// use, so the time of a refusal does not tell an unknown name from a known
// one, or one hash kind or parameter set from another.
//
// Why a time floor rather than a dummy hash per parameter set: an unknown
// name cannot be matched to any one parameter set, so with mixed sets no
// dummy costs the same as every known name; and waiting costs no CPU, so
// unknown names cannot be used to make the server hash. The floor follows
// the measured cost of real checks (a moving average per parameter set,
// including the wait for a slot in the hashing Gate), so it tracks load.
type Floor struct {
	mu   sync.Mutex
	avg  map[string]time.Duration
	wait func(context.Context, time.Duration)
}

// floorMargin lifts the floor above the average of the slowest set, so
// that most of that set's own refusals are padded to the floor too.
const floorMargin = 1.25

// NewFloor returns an empty Floor: Pad waits for nothing until a cost has
// been observed.
func NewFloor() *Floor {
	return &Floor{avg: map[string]time.Duration{}, wait: sleepCtx}
}

// Observe records that checking a value of set took d.
func (f *Floor) Observe(set string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.avg[set]; ok {
		d = old + (d-old)/8
	}
	f.avg[set] = d
}

// Target is how long a refusal takes at least.
func (f *Floor) Target() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var slowest time.Duration
	for _, d := range f.avg {
		slowest = max(slowest, d)
	}
	return time.Duration(float64(slowest) * floorMargin)
}

// Pad waits until Target has passed since started, or ctx ends.
func (f *Floor) Pad(ctx context.Context, started time.Time) {
	if left := f.Target() - time.Since(started); left > 0 {
		f.wait(ctx, left)
	}
}

// Check runs c on presented, records its cost under set, and on a
// mismatch pads the refusal to the floor.
func (f *Floor) Check(ctx context.Context, c Checker, set, presented string) bool {
	started := time.Now()
	ok := c.Check(presented)
	f.Observe(set, time.Since(started))
	if !ok {
		f.Pad(ctx, started)
	}
	return ok
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
