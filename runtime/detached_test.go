package session

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

func TestLoadOutsideHandler(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			ctx := context.Background()
			c := h.newSession("n", 1)

			for _, id := range []string{"", "not an id", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
				_, err := h.m.Load(ctx, id)
				assert.ErrorIs(t, err, ErrNotFound, "%q", id)
			}

			s, err := h.m.Load(ctx, c.Value)
			require.NoError(t, err)
			assert.Equal(t, c.Value, s.ID())
			n, ok, err := Value[int](s, "n")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, 1, n)
			assert.Same(t, s, FromContext(h.m.Context(ctx, s)), "Context attaches the session for FromContext and TFrom")

			before := h.store.updates.Load()
			require.NoError(t, s.Set(ctx, "n", 2))
			assert.Equal(t, before+1, h.store.updates.Load(), "the write went to the engine at once, whatever the flush mode")
			_, err = Update(ctx, s, "n", incr)
			require.NoError(t, err)
			got, err := h.engineRecord(c)
			require.NoError(t, err)
			n, err = decodeInt(got.Fields["n"])
			require.NoError(t, err)
			assert.Equal(t, 3, n)

			require.NoError(t, s.Renew(ctx))
			assert.NotEqual(t, c.Value, s.ID())
			_, err = h.m.Load(ctx, c.Value)
			assert.ErrorIs(t, err, ErrNotFound, "the old ID reaches nothing after Renew")
			again, err := h.m.Load(ctx, s.ID())
			require.NoError(t, err)
			n, _, _ = Value[int](again, "n")
			assert.Equal(t, 3, n)

			require.NoError(t, h.m.Revoke(ctx, store.Key(s.ID())))
			err = again.Set(ctx, "n", 4)
			assert.ErrorIs(t, err, ErrNotFound, "a write after a revocation does not create a session")
			assert.Empty(t, again.ID())
		})
	}
}
