package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testCanceledContext: every method given a canceled context returns an
// error wrapping context.Canceled and changes nothing, not even the
// version.
func testCanceledContext(t *testing.T, s store.Store) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()

	key, rec := createBase(t, s)

	t.Run("Load", func(t *testing.T) {
		_, err := s.Load(canceled, key)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("Create", func(t *testing.T) {
		fresh := NewKey(t)
		err := s.Create(canceled, fresh, newRecord(fields("a", "1")))
		require.ErrorIs(t, err, context.Canceled)
		requireNotFound(t, s, fresh)
	})
	t.Run("Update", func(t *testing.T) {
		c := store.Change{Set: fields("a", "changed"), Remove: []string{"b"}, Expires: msTime(3 * time.Hour), Owner: ptr("x")}
		err := updateErr(canceled, s, key, c)
		require.ErrorIs(t, err, context.Canceled)
		requireRecord(t, rec, mustLoad(t, s, key))
	})
	t.Run("Delete", func(t *testing.T) {
		err := s.Delete(canceled, key)
		require.ErrorIs(t, err, context.Canceled)
		requireRecord(t, rec, mustLoad(t, s, key))
	})
	// The store still works with a live context afterwards.
	require.NoError(t, s.Delete(ctx, key))
	requireNotFound(t, s, key)
}
