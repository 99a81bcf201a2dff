package session

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

func TestRenewKeepsDataAndKillsOldID(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			old := h.newSession("user", "ada")

			rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "pending", 1))
				require.NoError(t, s.Renew(r.Context()))
				assert.NotEqual(t, old.Value, s.ID())
				v, ok, err := Value[string](s, "user")
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, "ada", v)
				_, ok, err = Value[int](s, "pending")
				require.NoError(t, err)
				assert.True(t, ok)
			}, old)
			renewed := sidCookie(rec.Result())
			require.NotNil(t, renewed)
			assert.NotEqual(t, old.Value, renewed.Value)

			_, err := h.engineRecord(old)
			require.ErrorIs(t, err, store.ErrNotFound, "the old ID is gone from the engine")
			_, cached := h.m.cache.GetIfPresent(old.Value)
			assert.False(t, cached, "and from the cache")
			_, cached = h.m.cache.GetIfPresent(renewed.Value)
			assert.True(t, cached, "the cache holds the session under its new ID")
			er, err := h.engineRecord(renewed)
			require.NoError(t, err)
			assert.Contains(t, er.Fields, "user")
			assert.Contains(t, er.Fields, "pending")

			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Equal(t, "", s.ID(), "the old cookie reaches nothing")
				assert.Empty(t, s.Keys())
			}, old)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Equal(t, renewed.Value, s.ID())
				assert.Equal(t, []string{"pending", "user"}, s.Keys())
			}, renewed)
		})
	}
}

func TestRenewWithoutSessionAndAfterHeaders(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()), "nothing to renew")
		assert.Equal(t, "", s.ID())
	})
	assert.Zero(t, h.store.calls())

	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _ = w.Write([]byte("x"))
		require.ErrorIs(t, s.Renew(r.Context()), ErrHeadersWritten)
		assert.Equal(t, c.Value, s.ID(), "nothing changed")
	}, c)
	_, err := h.engineRecord(c)
	require.NoError(t, err)
}

func TestRenewFailureChangesNothing(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	for _, op := range []string{"move", "move:" + store.Key(c.Value)} {
		h.store.failOn(op, errInjected)
		h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			require.ErrorIs(t, s.Renew(r.Context()), errInjected)
			assert.Equal(t, c.Value, s.ID())
		}, c)
		h.store.failOn(op, nil)
		h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			assert.Equal(t, c.Value, s.ID(), "the old ID still works after a failed renew (%s)", op)
		}, c)
	}
	// Only the original session is in the engine.
	assert.Equal(t, 1, h.store.Store.(interface{ Len() int }).Len())
}

func TestDestroy(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			c := h.newSession("k", 1)
			rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Destroy(r.Context()))
				assert.Equal(t, "", s.ID())
				assert.Empty(t, s.Keys())
			}, c)
			cleared := sidCookie(rec.Result())
			require.NotNil(t, cleared)
			assert.Equal(t, "", cleared.Value)
			assert.Less(t, cleared.MaxAge, 0, "the cookie is expired")

			_, err := h.engineRecord(c)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, cached := h.m.cache.GetIfPresent(c.Value)
			assert.False(t, cached, "gone from the cache")
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Empty(t, s.Keys())
			}, c)
		})
	}
}

func TestDestroyThenSetStartsNewSession(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Destroy(r.Context()))
		require.NoError(t, s.Set(r.Context(), "fresh", true))
		assert.NotEqual(t, c.Value, s.ID())
		assert.Equal(t, []string{"fresh"}, s.Keys())
	}, c)
	nc := sidCookie(rec.Result())
	require.NotNil(t, nc)
	assert.NotEqual(t, c.Value, nc.Value)
	assert.NotEqual(t, "", nc.Value, "the new ID wins over the clearing")
	assert.Len(t, rec.Header().Values("Set-Cookie"), 1)
}

func TestDestroyAfterHeadersStillDeletes(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _ = w.Write([]byte("x"))
		require.NoError(t, s.Destroy(r.Context()))
	}, c)
	_, err := h.engineRecord(c)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestConcurrentDestroyIsSeenByWriter(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.Equal(t, c.Value, s.ID())
		h.do(func(w http.ResponseWriter, r *http.Request, s2 *Session) {
			require.NoError(t, s2.Destroy(r.Context()))
		}, c)
		err := s.Set(r.Context(), "after", 1)
		require.ErrorIs(t, err, ErrNotFound, "no resurrection")
		assert.Equal(t, "", s.ID())
	}, c)
	_, err := h.engineRecord(c)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestDeletedElsewhereIsNotResurrected(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	// Another process deletes the session; this one still has it cached.
	require.NoError(t, h.store.Store.Delete(context.Background(), store.Key(c.Value)))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.ErrorIs(t, s.Set(r.Context(), "x", 1), ErrNotFound)
	}, c)
	cl := sidCookie(rec.Result())
	require.NotNil(t, cl)
	assert.Equal(t, "", cl.Value)
	_, err := h.engineRecord(c)
	require.ErrorIs(t, err, store.ErrNotFound)
}
