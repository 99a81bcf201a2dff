package enginetest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// IndexOps returns the operations Version (of a fresh key) and Owned (of
// a fresh owner) of s, which must implement [store.Versioner] and
// [store.OwnerIndex], for [Outage] and [LockedDeadlines].
func IndexOps(t testing.TB, s store.Store) []Op {
	v, ok := s.(store.Versioner)
	require.Truef(t, ok, "%T implements store.Versioner", s)
	idx, ok := s.(store.OwnerIndex)
	require.Truef(t, ok, "%T implements store.OwnerIndex", s)
	return []Op{
		{"version", func(ctx context.Context) error { _, err := v.Version(ctx, storetest.NewKey(t)); return err }},
		{"owned", func(ctx context.Context) error { _, err := idx.Owned(ctx, UniqueName("owner-")); return err }},
	}
}

// SQLOwnerLimits checks the owners an SQL engine takes: text of up to
// maxLen bytes is kept exactly and listed by Owned; an owner one byte
// longer, one that is not valid UTF-8, and one holding a NUL byte are
// refused by Create, Update and Owned with errors wrapping
// store.ErrInvalid that name the engine and the operation, and the
// refused Update writes nothing. s must implement [store.OwnerIndex].
func SQLOwnerLimits(t *testing.T, engine string, s store.Store, maxLen int) {
	ctx := context.Background()
	index, ok := s.(store.OwnerIndex)
	require.Truef(t, ok, "%T implements store.OwnerIndex", s)

	prefix := UniqueName("o") + ":"
	longest := []string{
		prefix + strings.Repeat("x", maxLen-len(prefix)),
		prefix + strings.Repeat("ж", (maxLen-len(prefix))/2) + strings.Repeat("x", (maxLen-len(prefix))%2),
	}
	for _, owner := range longest {
		require.Len(t, owner, maxLen)
		key := storetest.NewKey(t)
		rec := LiveRecord("a", "1")
		rec.Owner = owner
		require.NoError(t, s.Create(ctx, key, rec), "Create with an owner of %d bytes", maxLen)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, owner, got.Owner)
		owned, err := index.Owned(ctx, owner)
		require.NoError(t, err)
		require.Len(t, owned, 1)
		assert.Equal(t, key, owned[0].Key)
	}

	key := storetest.NewKey(t)
	rec := LiveRecord("a", "1")
	rec.Owner = longest[0]
	require.NoError(t, s.Create(ctx, key, rec))
	for name, bad := range map[string]string{
		"too long":    longest[0] + "x",
		"bad UTF-8":   "user\xff",
		"a NUL byte":  "user\x00x",
		"lone second": "\x80",
	} {
		r := LiveRecord("a", "1")
		r.Owner = bad
		err := s.Create(ctx, storetest.NewKey(t), r)
		require.ErrorIsf(t, err, store.ErrInvalid, "Create with an owner with %s", name)
		assert.ErrorContains(t, err, engine+": create: ")

		_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}, Owner: &bad})
		require.ErrorIsf(t, err, store.ErrInvalid, "Update with an owner with %s", name)
		assert.ErrorContains(t, err, engine+": update: ")

		_, err = index.Owned(ctx, bad)
		require.ErrorIsf(t, err, store.ErrInvalid, "Owned of an owner with %s", name)
		assert.ErrorContains(t, err, engine+": owned: ")
	}
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Fields, "refused Updates wrote nothing")
	assert.Equal(t, longest[0], got.Owner)
	assert.Equal(t, uint64(1), got.Version)

	owned, err := index.Owned(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, owned, "the empty owner owns nothing")
}

// SQLIndexStore is what the shared owner-index tests of the SQL engines
// need: an [SQLStore] with an owner index.
type SQLIndexStore interface {
	SQLStore
	store.OwnerIndex
}

// SQLIndexFollowsRows checks that the owner index of an SQL engine is the
// owner column, so its entries go with their rows: a Delete, an owner
// change and the cleanup of expired sessions leave no row under the old
// owner. rows counts the rows under an owner, expired ones included.
func SQLIndexFollowsRows(t *testing.T, s SQLIndexStore, rows func(owner string) int) {
	ctx := context.Background()
	owner := UniqueName("owner-")
	count := func() int { return rows(owner) }
	deleted, moved, expired := storetest.NewKey(t), storetest.NewKey(t), storetest.NewKey(t)
	for _, key := range []string{deleted, moved} {
		rec := LiveRecord("a", "1")
		rec.Owner = owner
		require.NoError(t, s.Create(ctx, key, rec))
	}
	rec := ExpiredRecord()
	rec.Owner = owner
	require.NoError(t, s.Create(ctx, expired, rec))
	require.Equal(t, 3, count())

	require.NoError(t, s.Delete(ctx, deleted))
	other := owner + "-other"
	_, err := s.Update(ctx, moved, store.Change{Owner: &other})
	require.NoError(t, err)
	assert.Equal(t, 1, count(), "the expired session's row is left for the cleanup")
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Empty(t, owned, "an expired session is never listed")

	_, err = s.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, count(), "the cleanup removed the expired session's entry")
}

// SQLUpgraded checks a session written by the release before owners, read
// through s once its tables are upgraded: it keeps its fields (a: "1") and
// its version, has no owner, and joins the owner index when it gets one
// (its version going up by one).
func SQLUpgraded(t *testing.T, s SQLIndexStore, key string, version uint64) {
	ctx := context.Background()
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Fields)
	assert.Equal(t, version, got.Version)
	assert.Empty(t, got.Owner)

	owner := UniqueName("owner-")
	v, err := s.Update(ctx, key, store.Change{Owner: &owner})
	require.NoError(t, err)
	assert.Equal(t, version+1, v)
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	assert.Equal(t, key, owned[0].Key)
}
