package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// createBase creates a fresh session with fields a, b and c and returns
// its key and record.
func createBase(t *testing.T, s store.Store) (string, store.Record) {
	t.Helper()
	key := NewKey(t)
	rec := newRecord(fields("a", "1", "b", "2", "c", "3"))
	mustCreate(t, s, key, rec)
	return key, rec
}

// testUpdateSet: Set writes new and existing keys and leaves the others,
// Created and Expires alone.
func testUpdateSet(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	set := map[string][]byte{
		"b":      []byte("twenty"),        // longer than before
		"c":      {},                      // shorter, empty
		"d":      {0x00, 0xff, 0x00},      // new, binary
		"новый":  []byte("ключ"),          // new, non-ASCII key
		"a-like": []byte("not a prefix!"), // shares a prefix with "a"
	}
	requireUpdate(t, s, key, store.Change{Set: set}, 2)
	want := rec
	want.Fields = merged(rec.Fields, set)
	want.Version = 2
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateRemove: Remove deletes the named keys, ignores absent ones and
// leaves the rest alone.
func testUpdateRemove(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	remove := []string{"a", "absent", "c"}
	requireUpdate(t, s, key, store.Change{Remove: remove}, 2)
	want := rec
	want.Fields = merged(rec.Fields, nil, remove...)
	want.Version = 2
	requireRecord(t, want, mustLoad(t, s, key))

	// Removing only absent keys is fine too, and still counts as a write.
	requireUpdate(t, s, key, store.Change{Remove: []string{"absent", "a"}}, 3)
	want.Version = 3
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateSetAndRemove: one Change both writes and removes.
func testUpdateSetAndRemove(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	c := store.Change{Set: fields("b", "22", "d", "4"), Remove: []string{"a"}}
	requireUpdate(t, s, key, c, 2)
	want := rec
	want.Fields = merged(rec.Fields, c.Set, c.Remove...)
	want.Version = 2
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateTouch: a Change with only Expires moves the expiry, earlier or
// later, and changes nothing else.
func testUpdateTouch(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	for i, d := range []time.Duration{3 * time.Hour, 30 * time.Minute} {
		want := rec
		want.Expires = msTime(d)
		want.Version = uint64(2 + i)
		requireUpdate(t, s, key, store.Change{Expires: want.Expires}, want.Version)
		requireRecord(t, want, mustLoad(t, s, key))
	}
}

// testUpdateSetWithExpiry: fields and expiry change together.
func testUpdateSetWithExpiry(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	c := store.Change{Set: fields("a", "11"), Remove: []string{"b"}, Expires: msTime(5 * time.Hour)}
	requireUpdate(t, s, key, c, 2)
	want := store.Record{
		Fields:  merged(rec.Fields, c.Set, c.Remove...),
		Created: rec.Created,
		Expires: c.Expires,
		Version: 2,
	}
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateEmptyChange: an empty Change succeeds on a live session,
// changing nothing but the version, and reports ErrNotFound on a missing
// one.
func testUpdateEmptyChange(t *testing.T, s store.Store) {
	ctx := context.Background()
	key, rec := createBase(t, s)
	requireUpdate(t, s, key, store.Change{}, 2)
	rec.Version = 2
	requireRecord(t, rec, mustLoad(t, s, key))
	requireUpdate(t, s, key, store.Change{Set: map[string][]byte{}, Remove: []string{}}, 3)
	rec.Version = 3
	requireRecord(t, rec, mustLoad(t, s, key))

	missing := NewKey(t)
	require.ErrorIs(t, updateErr(ctx, s, missing, store.Change{}), store.ErrNotFound)
	requireNotFound(t, s, missing)
}

// testUpdateRemoveAllKeepsSession: removing every field leaves a live,
// empty session, not a missing one.
func testUpdateRemoveAllKeepsSession(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	requireUpdate(t, s, key, store.Change{Remove: []string{"a", "b", "c"}}, 2)
	got := mustLoad(t, s, key)
	require.NotNil(t, got.Fields)
	require.Empty(t, got.Fields)
	requireTime(t, rec.Created, got.Created, "Created")
	requireTime(t, rec.Expires, got.Expires, "Expires")
	require.Equal(t, uint64(2), got.Version, "Version")

	// The empty session still takes updates.
	requireUpdate(t, s, key, store.Change{Set: fields("back", "1")}, 3)
	got = mustLoad(t, s, key)
	requireFields(t, fields("back", "1"), got.Fields)
	require.Equal(t, uint64(3), got.Version, "Version")
}

// testUpdateMissing: Update of a key never created reports ErrNotFound and
// creates nothing, whatever the Change holds.
func testUpdateMissing(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	someone := newOwner(t, "someone")
	changes := []store.Change{
		{Set: fields("a", "1")},
		{Remove: []string{"a"}},
		{Expires: msTime(time.Hour)},
		{Set: fields("a", "1"), Remove: []string{"b"}, Expires: msTime(time.Hour)},
		{Owner: ptr(someone)},
		{},
	}
	for _, c := range changes {
		require.ErrorIs(t, updateErr(ctx, s, key, c), store.ErrNotFound)
		requireNotFound(t, s, key)
	}
	// Nothing half-written lingers: a later Create holds only its fields.
	want := newRecord(fields("b", "2"))
	mustCreate(t, s, key, want)
	requireRecord(t, want, mustLoad(t, s, key))
	if idx, ok := s.(store.OwnerIndex); ok {
		owned, err := idx.Owned(ctx, someone)
		require.NoError(t, err)
		for _, o := range owned {
			require.NotEqual(t, key, o.Key, "a failed Update put the session in the owner index")
		}
	}
}

// testUpdateAfterDelete: Update of a deleted session reports ErrNotFound
// and writes nothing; the session stays gone.
func testUpdateAfterDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	key, _ := createBase(t, s)
	require.NoError(t, s.Delete(ctx, key))

	c := store.Change{Set: fields("a", "resurrected", "z", "26"), Expires: msTime(time.Hour), Owner: ptr(newOwner(t, "someone"))}
	require.ErrorIs(t, updateErr(ctx, s, key, c), store.ErrNotFound)
	requireNotFound(t, s, key)
	require.ErrorIs(t, updateErr(ctx, s, key, store.Change{Expires: msTime(time.Hour)}), store.ErrNotFound)
	requireNotFound(t, s, key)

	want := newRecord(fields("fresh", "1"))
	mustCreate(t, s, key, want)
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateSetWinsOverRemove: a key named in both Set and Remove ends up
// set, as store.Change documents.
func testUpdateSetWinsOverRemove(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	set := map[string][]byte{"a": []byte("kept"), "n": []byte("new")}
	requireUpdate(t, s, key, store.Change{Set: set, Remove: []string{"a", "n", "b"}}, 2)
	want := rec
	want.Fields = merged(rec.Fields, set, "b")
	want.Version = 2
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateExpiresInPast: an Update that moves the expiry into the past
// (how a manager revokes a session before deleting it) succeeds, and from
// then on the session is gone for Load, Update and Move, and an owner
// index no longer lists it.
func testUpdateExpiresInPast(t *testing.T, s store.Store) {
	ctx := context.Background()
	owner := newOwner(t, "expire-past")
	key, _ := createOwned(t, s, owner, time.Hour)
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	mustUpdate(t, s, key, store.Change{Expires: past})
	requireNotFound(t, s, key)
	require.ErrorIs(t, updateErr(ctx, s, key, store.Change{Expires: past}), store.ErrNotFound)
	_, err := s.Move(ctx, key, NewKey(t), store.Change{Expires: msTime(time.Hour)})
	require.ErrorIs(t, err, store.ErrNotFound)
	if _, ok := s.(store.OwnerIndex); ok {
		requireOwned(t, s, owner, nil)
	}
	require.NoError(t, s.Delete(ctx, key))
	requireNotFound(t, s, key)
}
