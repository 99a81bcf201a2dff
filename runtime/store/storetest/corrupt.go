package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// Corrupt checks what an engine does with a record it holds under key
// but cannot parse: the engine's own test plants the corruption (garbage
// metadata, a value of the wrong type...) and calls Corrupt. Load,
// Version, Update and Move must fail without writing (with ErrCorrupt,
// or ErrNotFound where the engine cannot tell a damaged record from none)
// and without panicking; Delete must remove the record, after which the
// key loads as ErrNotFound and a new session can be created under it.
func Corrupt(t *testing.T, s store.Store, key string) {
	t.Helper()
	ctx := context.Background()
	corruptOrGone := func(err error, op string) {
		t.Helper()
		require.Truef(t, errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotFound),
			"%s of a corrupt record: want ErrCorrupt or ErrNotFound, got %v", op, err)
	}
	_, err := s.Load(ctx, key)
	corruptOrGone(err, "Load")
	if v, ok := s.(store.Versioner); ok {
		_, err := v.Version(ctx, key)
		corruptOrGone(err, "Version")
	}
	_, err = s.Update(ctx, key, store.Change{Set: fields("a", "1"), Expires: msTime(time.Hour)})
	corruptOrGone(err, "Update")
	to := NewKey(t)
	_, err = s.Move(ctx, key, to, store.Change{Expires: msTime(time.Hour)})
	corruptOrGone(err, "Move")
	requireNotFound(t, s, to)

	require.NoError(t, s.Delete(ctx, key), "Delete of a corrupt record")
	requireNotFound(t, s, key)
	want := newRecord(fields("fresh", "1"))
	mustCreate(t, s, key, want)
	requireRecord(t, want, mustLoad(t, s, key))
}
