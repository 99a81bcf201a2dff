package storetest

import (
	"context"
	"testing"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testDeleteMissing: deleting a key never written is not an error.
func testDeleteMissing(t *testing.T, s store.Store) {
	key := NewKey(t)
	require.NoError(t, s.Delete(context.Background(), key))
	requireNotFound(t, s, key)
}

// testDeleteThenLoad: a deleted session loads as ErrNotFound, and
// deleting it again is fine.
func testDeleteThenLoad(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	mustCreate(t, s, key, newRecord(fields("a", "1")))
	require.NoError(t, s.Delete(ctx, key))
	requireNotFound(t, s, key)
	require.NoError(t, s.Delete(ctx, key))
	requireNotFound(t, s, key)
}
