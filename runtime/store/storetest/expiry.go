package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testExpiry sets up every expiry scenario with short-lived sessions,
// waits once until they have all expired, then checks each scenario as a
// subtest.
func testExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	var latest time.Time
	short := func() time.Time {
		e := msTime(shortTTL)
		if e.After(latest) {
			latest = e
		}
		return e
	}
	create := func(f map[string][]byte, expires time.Time) string {
		key := NewKey(t)
		mustCreate(t, s, key, store.Record{Fields: f, Created: msTime(0), Expires: expires})
		return key
	}

	// Plain expiry; checked alive right away when there is time to.
	loadKey := create(fields("a", "1"), short())
	if time.Until(latest) > shortTTL/2 {
		requireFields(t, fields("a", "1"), mustLoad(t, s, loadKey).Fields)
	}
	updateKey := create(fields("a", "1"), short())
	deleteKey := create(fields("a", "1"), short())

	// A session written a few times, with an owner, then left to expire:
	// a new Create over it starts at version 1 with its own owner.
	createKey := create(fields("old", "1", "shared", "old"), short())
	requireUpdate(t, s, createKey, store.Change{Set: fields("more", "1"), Owner: ptr(newOwner(t, "old"))}, 2)
	requireUpdate(t, s, createKey, store.Change{Remove: []string{"more"}}, 3)

	// An Update without Expires keeps the short expiry.
	keepKey := create(fields("a", "1"), short())
	require.NoError(t, updateErr(ctx, s, keepKey, store.Change{Set: fields("b", "2")}), "Update")

	// A touch extends life past the original expiry.
	touchKey := create(fields("a", "1"), short())
	touched := msTime(time.Hour)
	requireUpdate(t, s, touchKey, store.Change{Expires: touched}, 2)

	// A touch can also shorten life.
	shortenKey := create(fields("a", "1"), msTime(time.Hour))
	require.NoError(t, updateErr(ctx, s, shortenKey, store.Change{Expires: short()}), "touch")

	time.Sleep(time.Until(latest) + expiryMargin)

	t.Run("LoadAfterExpiry", func(t *testing.T) {
		requireNotFound(t, s, loadKey)
	})
	t.Run("UpdateAfterExpiry", func(t *testing.T) {
		changes := []store.Change{
			{Set: fields("a", "resurrected"), Expires: msTime(time.Hour)},
			{Expires: msTime(time.Hour)},
			{Set: fields("z", "26")},
			{Remove: []string{"a"}},
			{},
		}
		for _, c := range changes {
			require.ErrorIs(t, updateErr(ctx, s, updateKey, c), store.ErrNotFound)
			requireNotFound(t, s, updateKey)
		}
	})
	t.Run("CreateOverExpired", func(t *testing.T) {
		want := newRecord(fields("new", "2", "shared", "new"))
		want.Owner = newOwner(t, "new")
		mustCreate(t, s, createKey, want)
		requireRecord(t, want, mustLoad(t, s, createKey))
		requireUpdate(t, s, createKey, store.Change{}, 2)
	})
	t.Run("DeleteExpired", func(t *testing.T) {
		require.NoError(t, s.Delete(ctx, deleteKey))
		requireNotFound(t, s, deleteKey)
	})
	t.Run("UpdateKeepsExpiry", func(t *testing.T) {
		requireNotFound(t, s, keepKey)
	})
	t.Run("TouchExtends", func(t *testing.T) {
		got := mustLoad(t, s, touchKey)
		requireFields(t, fields("a", "1"), got.Fields)
		requireTime(t, touched, got.Expires, "Expires")
		require.Equal(t, uint64(2), got.Version, "Version")
		requireUpdate(t, s, touchKey, store.Change{Set: fields("b", "2")}, 3)
		got = mustLoad(t, s, touchKey)
		requireFields(t, fields("a", "1", "b", "2"), got.Fields)
		require.Equal(t, uint64(3), got.Version, "Version")
	})
	t.Run("TouchShortens", func(t *testing.T) {
		requireNotFound(t, s, shortenKey)
	})
}
