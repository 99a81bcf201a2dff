package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// TwoNodes checks that two independent handles a and b on one backend (two
// "nodes", e.g. two processes sharing a server) see each other's writes:
// concurrent per-field writes through both survive, a Create or Update on
// one is seen on the other, a Delete on a is seen on b, and b cannot bring
// back a session a deleted, also while racing the Delete. Engines that
// cannot open a second handle pass the same one twice.
func TwoNodes(t *testing.T, a, b store.Store) {
	t.Helper()
	require.NotNil(t, a, "storetest: node a is nil")
	require.NotNil(t, b, "storetest: node b is nil")
	ctx := context.Background()

	t.Run("CreateSeenOnOther", func(t *testing.T) {
		key := NewKey(t)
		want := newRecord(awkwardFields())
		mustCreate(t, a, key, want)
		requireRecord(t, want, mustLoad(t, b, key))
		require.ErrorIs(t, b.Create(ctx, key, newRecord(nil)), store.ErrExists)
		requireRecord(t, want, mustLoad(t, a, key))
	})
	t.Run("UpdateSeenOnOther", func(t *testing.T) {
		key := NewKey(t)
		rec := newRecord(fields("a", "1", "b", "2"))
		mustCreate(t, a, key, rec)
		c := store.Change{Set: fields("c", "3"), Remove: []string{"a"}, Expires: msTime(2 * time.Hour)}
		require.NoError(t, b.Update(ctx, key, c))
		want := store.Record{Fields: merged(rec.Fields, c.Set, c.Remove...), Created: rec.Created, Expires: c.Expires}
		requireRecord(t, want, mustLoad(t, a, key))
		requireRecord(t, want, mustLoad(t, b, key))
	})
	t.Run("ConcurrentFieldWriters", func(t *testing.T) {
		concurrentFieldWriters(t, a, []store.Store{a, b})
	})
	t.Run("DeleteSeenOnOther", func(t *testing.T) {
		key := NewKey(t)
		mustCreate(t, a, key, newRecord(fields("a", "1")))
		mustLoad(t, b, key)
		require.NoError(t, a.Delete(ctx, key))
		requireNotFound(t, b, key)
		requireNotFound(t, a, key)
	})
	t.Run("NoResurrectionThroughOther", func(t *testing.T) {
		key := NewKey(t)
		mustCreate(t, a, key, newRecord(fields("a", "1")))
		require.NoError(t, b.Update(ctx, key, store.Change{Set: fields("b", "2")}))
		require.NoError(t, a.Delete(ctx, key))
		require.ErrorIs(t, b.Update(ctx, key, store.Change{Set: fields("c", "3"), Expires: msTime(time.Hour)}), store.ErrNotFound)
		require.ErrorIs(t, b.Update(ctx, key, store.Change{Expires: msTime(time.Hour)}), store.ErrNotFound)
		requireNotFound(t, a, key)
		requireNotFound(t, b, key)

		want := newRecord(fields("fresh", "1"))
		mustCreate(t, b, key, want)
		requireRecord(t, want, mustLoad(t, a, key))
	})
	t.Run("DeleteUpdateRace", func(t *testing.T) {
		deleteUpdateRace(t, a, []store.Store{b}, a)
	})
	t.Run("DeleteUpdateRaceBothNodes", func(t *testing.T) {
		deleteUpdateRace(t, b, []store.Store{a, b}, b)
	})
}
