package storetest

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testVersionAfterCreate: Create stores Version 1 whatever the Record
// given to it says.
func testVersionAfterCreate(t *testing.T, s store.Store) {
	for _, given := range []uint64{0, 1, 2, 42, math.MaxUint64} {
		key := NewKey(t)
		rec := newRecord(fields("a", "1"))
		rec.Version = given
		mustCreate(t, s, key, rec)
		require.Equalf(t, uint64(1), mustLoad(t, s, key).Version, "Version after Create given Version %d", given)
	}
}

// testVersionCountsUpdates: every kind of successful Update adds exactly
// 1 to the version, returns the new version, and Load reports it.
func testVersionCountsUpdates(t *testing.T, s store.Store) {
	key, _ := createBase(t, s)
	owner := newOwner(t, "owner")
	changes := []struct {
		name string
		c    store.Change
	}{
		{"Set", store.Change{Set: fields("a", "11")}},
		{"SameValueAgain", store.Change{Set: fields("a", "11")}},
		{"Remove", store.Change{Remove: []string{"b"}}},
		{"RemoveAbsent", store.Change{Remove: []string{"b", "absent"}}},
		{"SetAndRemove", store.Change{Set: fields("d", "4"), Remove: []string{"c"}}},
		{"Touch", store.Change{Expires: msTime(2 * time.Hour)}},
		{"SameExpiryAgain", store.Change{Expires: msTime(2 * time.Hour)}},
		{"Empty", store.Change{}},
		{"SetOwner", store.Change{Owner: ptr(owner)}},
		{"SameOwnerAgain", store.Change{Owner: ptr(owner)}},
		{"ClearOwner", store.Change{Owner: ptr("")}},
		{"Everything", store.Change{Set: fields("e", "5"), Remove: []string{"a"}, Expires: msTime(3 * time.Hour), Owner: ptr(newOwner(t, "other"))}},
	}
	want := uint64(1)
	for _, c := range changes {
		want++
		v, err := s.Update(context.Background(), key, c.c)
		require.NoErrorf(t, err, "Update %s", c.name)
		require.Equalf(t, want, v, "version returned by Update %s", c.name)
		require.Equalf(t, want, mustLoad(t, s, key).Version, "Version loaded after Update %s", c.name)
	}
}

// testVersionFailedUpdate: an Update that fails writes nothing, so it
// does not count: a refused change (empty field key) and an Update
// racing nothing but a Delete leave the version alone.
func testVersionFailedUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	key, rec := createBase(t, s)
	_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"": []byte("x"), "ok": []byte("y")}})
	require.Error(t, err, "Update with an empty field key")
	requireRecord(t, rec, mustLoad(t, s, key))
	requireUpdate(t, s, key, store.Change{Set: fields("ok", "y")}, 2)
}

// RunVersioner checks an engine's [store.Versioner]: Version reports what
// Load reports and follows every Update, and reports ErrNotFound for a
// session that is missing, deleted or expired. newStore is called as in
// [Run] and must return a Store that implements store.Versioner.
//
// The expiry check shares one short wait (a few hundred milliseconds)
// with nothing else, so the whole run takes about half a second plus the
// engine's latency.
func RunVersioner(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	require.NotNil(t, newStore, "storetest: newStore is nil")
	ctx := context.Background()

	// The expiry check is set up first and checked last, so its wait
	// overlaps the other checks.
	es := newStore(t)
	ev := requireVersioner(t, es)
	var latest time.Time
	short := func() time.Time {
		e := msTime(shortTTL)
		if e.After(latest) {
			latest = e
		}
		return e
	}
	expired := NewKey(t)
	mustCreate(t, es, expired, store.Record{Fields: fields("a", "1"), Created: msTime(0), Expires: short()})
	requireUpdate(t, es, expired, store.Change{Set: fields("b", "2")}, 2)
	shortened := NewKey(t)
	mustCreate(t, es, shortened, newRecord(fields("a", "1")))
	requireUpdate(t, es, shortened, store.Change{Expires: short()}, 2)
	extended := NewKey(t)
	mustCreate(t, es, extended, store.Record{Fields: fields("a", "1"), Created: msTime(0), Expires: short()})
	requireUpdate(t, es, extended, store.Change{Expires: msTime(time.Hour)}, 2)

	t.Run("MatchesLoad", func(t *testing.T) {
		s := newStore(t)
		v := requireVersioner(t, s)
		key, _ := createBase(t, s)
		requireVersion(t, v, key, 1)
		requireVersion(t, v, key, 1) // asking does not count as a write
		for i, c := range []store.Change{
			{Set: fields("a", "11")},
			{Remove: []string{"a"}},
			{Expires: msTime(2 * time.Hour)},
			{},
			{Owner: ptr(newOwner(t, "owner"))},
		} {
			want := uint64(2 + i)
			requireUpdate(t, s, key, c, want)
			requireVersion(t, v, key, want)
			require.Equal(t, want, mustLoad(t, s, key).Version, "Version loaded")
		}
	})
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		v := requireVersioner(t, s)
		_, err := v.Version(ctx, NewKey(t))
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("Deleted", func(t *testing.T) {
		s := newStore(t)
		v := requireVersioner(t, s)
		key, _ := createBase(t, s)
		requireUpdate(t, s, key, store.Change{Set: fields("z", "1")}, 2)
		require.NoError(t, s.Delete(ctx, key))
		_, err := v.Version(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)

		// A new session under the key starts over.
		mustCreate(t, s, key, newRecord(fields("a", "1")))
		requireVersion(t, v, key, 1)
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		v := requireVersioner(t, s)
		key, _ := createBase(t, s)
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := v.Version(canceled, key)
		require.ErrorIs(t, err, context.Canceled)
		requireVersion(t, v, key, 1)
	})
	t.Run("Expired", func(t *testing.T) {
		time.Sleep(time.Until(latest) + expiryMargin)
		for name, key := range map[string]string{"Expired": expired, "Shortened": shortened} {
			_, err := ev.Version(ctx, key)
			require.ErrorIsf(t, err, store.ErrNotFound, "Version of the %s session", name)
		}
		requireVersion(t, ev, extended, 2)

		// A new session over the expired one starts over.
		mustCreate(t, es, expired, newRecord(fields("new", "1")))
		requireVersion(t, ev, expired, 1)
	})
}

// requireVersioner returns s as a store.Versioner, failing the test when
// it is not one.
func requireVersioner(t *testing.T, s store.Store) store.Versioner {
	t.Helper()
	require.NotNil(t, s, "storetest: newStore returned nil")
	v, ok := s.(store.Versioner)
	require.Truef(t, ok, "storetest: %T does not implement store.Versioner", s)
	return v
}

// requireVersion fails unless v reports version want for key.
func requireVersion(t *testing.T, v store.Versioner, key string, want uint64) {
	t.Helper()
	got, err := v.Version(context.Background(), key)
	require.NoError(t, err, "Version")
	require.Equal(t, want, got, "Version")
}
