package enginetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// RandomUpdate returns a random live record created at now and a random
// change to it, for differential tests of an engine's grouped Updates
// against its lone ones: fields among a few short names, often equal to
// the stored ones; sets, removals, expectations of values or of absence
// (in one change in three, as they would otherwise hide the size limit);
// size limits that pass or not; new expiries and owners (an empty owner
// clears it).
func RandomUpdate(rng *rand.Rand, now time.Time) (store.Record, store.Change) {
	names := []string{"a", "b", "c", "dd", "e"}
	value := func() []byte { return []byte(fmt.Sprint(rng.IntN(3))) }
	rec := store.Record{Created: now, Expires: now.Add(time.Hour), Fields: map[string][]byte{}}
	for _, name := range names {
		if rng.IntN(2) == 0 {
			rec.Fields[name] = value()
		}
	}
	if rng.IntN(2) == 0 {
		rec.Owner = "u" + fmt.Sprint(rng.IntN(3))
	}
	c := store.Change{Set: map[string][]byte{}, Expect: map[string][]byte{}}
	expects := rng.IntN(3) == 0
	for _, name := range names {
		op := rng.IntN(5)
		if !expects && (op == 2 || op == 3) {
			op = 4
		}
		switch op {
		case 0:
			c.Set[name] = value()
		case 1:
			c.Remove = append(c.Remove, name)
		case 2:
			c.Expect[name] = value()
		case 3:
			c.Expect[name] = nil // absent
		}
		// 4: the field left alone
	}
	if rng.IntN(2) == 0 {
		c.MaxSize = 4 + rng.IntN(12)
	}
	if rng.IntN(2) == 0 {
		c.Expires = now.Add(time.Duration(1+rng.IntN(100)) * time.Minute).Round(time.Microsecond)
	}
	if rng.IntN(3) == 0 {
		o := []string{"", "u1", "u9"}[rng.IntN(3)]
		c.Owner = &o
	}
	return rec, c
}

// Outcome names the store error err wraps ("ok" for nil; err's text
// for any other error), so that two outcomes compare equal when they
// are the same kind of refusal.
func Outcome(err error) string {
	for _, e := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict, store.ErrTooLarge, store.ErrCorrupt} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// Outcomes counts the outcomes a randomized test reached, against the
// ones it must reach. Make one with [NewOutcomes].
type Outcomes struct {
	want []string
	seen map[string]int
}

// NewOutcomes returns a count that must reach each of want (nil for
// success).
func NewOutcomes(want ...error) *Outcomes {
	o := &Outcomes{seen: map[string]int{}}
	for _, err := range want {
		o.want = append(o.want, Outcome(err))
	}
	return o
}

// Add counts err's outcome.
func (o *Outcomes) Add(err error) { o.seen[Outcome(err)]++ }

// Missing returns the outcomes wanted that were not reached.
func (o *Outcomes) Missing() []string {
	var missing []string
	for _, w := range o.want {
		if o.seen[w] == 0 {
			missing = append(missing, w)
		}
	}
	return missing
}

// Trials reports whether a randomized test should run trial (from 0):
// at least min trials, and more, up to max, until every wanted outcome
// was reached (a few seeds in a hundred miss one in a dozen trials).
func (o *Outcomes) Trials(trial, min, max int) bool {
	return trial < min || trial < max && len(o.Missing()) > 0
}

// RequireTwins asserts that the sessions under got and want in s are
// alike: both missing the same way, or with the same fields, expiry,
// owner and version. what names the pair in messages.
func RequireTwins(t testing.TB, s store.Store, want, got, what string) {
	t.Helper()
	ctx := context.Background()
	rw, errw := s.Load(ctx, want)
	rg, errg := s.Load(ctx, got)
	require.Equal(t, Outcome(errw), Outcome(errg), what)
	assert.Equal(t, rw.Fields, rg.Fields, what)
	assert.True(t, rw.Expires.Equal(rg.Expires), "%s: expires %v, not %v", what, rg.Expires, rw.Expires)
	assert.Equal(t, rw.Owner, rg.Owner, what)
	assert.Equal(t, rw.Version, rg.Version, what)
}
