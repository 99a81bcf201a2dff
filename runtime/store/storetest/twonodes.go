package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// TwoNodes checks that two independent handles a and b on one backend (two
// "nodes", e.g. two processes sharing a server) see each other's writes:
// concurrent per-field writes through both survive with one version each,
// a Create or Update on one is seen on the other (fields, times, owner and
// version, also through [store.Versioner] and [store.OwnerIndex] when the
// engine has them), a Delete on a is seen on b, and b cannot bring back a
// session a deleted, also while racing the Delete. Engines that cannot
// open a second handle pass the same one twice.
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
		requireUpdate(t, b, key, c, 2)
		want := store.Record{Fields: merged(rec.Fields, c.Set, c.Remove...), Created: rec.Created, Expires: c.Expires, Version: 2}
		requireRecord(t, want, mustLoad(t, a, key))
		requireRecord(t, want, mustLoad(t, b, key))
	})
	t.Run("VersionsAndOwnerSeenOnOther", func(t *testing.T) {
		versionsAndOwnerSeenOnOther(t, a, b)
	})
	t.Run("ConcurrentFieldWriters", func(t *testing.T) {
		concurrentFieldWriters(t, a, []store.Store{a, b})
	})
	t.Run("DeleteSeenOnOther", func(t *testing.T) {
		key := NewKey(t)
		owner := newOwner(t, "two-nodes")
		mustCreate(t, a, key, ownedRecord(owner, time.Hour))
		mustLoad(t, b, key)
		require.NoError(t, a.Delete(ctx, key))
		requireNotFound(t, b, key)
		requireNotFound(t, a, key)
		if v, ok := b.(store.Versioner); ok {
			_, err := v.Version(ctx, key)
			require.ErrorIs(t, err, store.ErrNotFound, "Version on the other node")
		}
		if _, ok := b.(store.OwnerIndex); ok {
			requireOwned(t, b, owner, nil)
		}
	})
	t.Run("NoResurrectionThroughOther", func(t *testing.T) {
		key := NewKey(t)
		mustCreate(t, a, key, newRecord(fields("a", "1")))
		requireUpdate(t, b, key, store.Change{Set: fields("b", "2")}, 2)
		require.NoError(t, a.Delete(ctx, key))
		require.ErrorIs(t, updateErr(ctx, b, key, store.Change{Set: fields("c", "3"), Expires: msTime(time.Hour)}), store.ErrNotFound)
		require.ErrorIs(t, updateErr(ctx, b, key, store.Change{Expires: msTime(time.Hour)}), store.ErrNotFound)
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
	t.Run("CompareAndSetCounter", func(t *testing.T) {
		CompareAndSetCounter(t, []store.Store{a, b})
	})
	t.Run("MaxSizeConcurrent", func(t *testing.T) {
		MaxSizeConcurrent(t, []store.Store{a, b})
	})
	MoveRaces(t, a, b)
}

// versionsAndOwnerSeenOnOther writes a session through a and b in turn,
// changing its owner on the way, and checks after each write that the
// other node loads (and, where the engine can, versions and lists) what
// the write reported.
func versionsAndOwnerSeenOnOther(t *testing.T, a, b store.Store) {
	first, second := newOwner(t, "first"), newOwner(t, "second")
	key := NewKey(t)
	want := ownedRecord(first, time.Hour)
	mustCreate(t, a, key, want)
	requireSeen(t, b, key, want)

	nodes := []store.Store{b, a}
	owners := []*string{nil, ptr(second), nil, ptr(""), ptr(first), nil}
	for i, owner := range owners {
		writer, reader := nodes[i%2], nodes[(i+1)%2]
		c := store.Change{Set: fields(fmt.Sprintf("f%d", i), "v"), Owner: owner}
		want.Fields = merged(want.Fields, c.Set)
		if owner != nil {
			want.Owner = *owner
		}
		want.Version = uint64(2 + i)
		requireUpdate(t, writer, key, c, want.Version)
		requireSeen(t, reader, key, want)
		requireSeen(t, writer, key, want)
	}
	if _, ok := a.(store.OwnerIndex); ok {
		requireOwned(t, a, second, nil)
	}
}

// requireSeen fails unless node loads want under key and, when it has
// them, reports want's version through store.Versioner and lists the
// session under want's owner through store.OwnerIndex.
func requireSeen(t *testing.T, node store.Store, key string, want store.Record) {
	t.Helper()
	requireRecord(t, want, mustLoad(t, node, key))
	if v, ok := node.(store.Versioner); ok {
		requireVersion(t, v, key, want.Version)
	}
	if _, ok := node.(store.OwnerIndex); ok && want.Owner != "" {
		requireOwned(t, node, want.Owner, map[string]store.Record{key: want})
	}
}
