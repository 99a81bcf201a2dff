package session

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// A request holds entry e of a session, e leaves the cache (eviction,
// TTL, an invalidation) and a concurrent request with the same cookie
// loads a second copy. Renew and Destroy must leave no copy of the old
// ID serving anything.
func TestNoCopySurvivesRenewOrDestroy(t *testing.T) {
	for _, op := range []string{"renew", "destroy"} {
		t.Run(op, func(t *testing.T) {
			h := newHarness(t)
			c := h.newSession("user", "anon")
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				_, _, err := s.Raw("user")
				require.NoError(t, err)
				h.m.forget(s.e)
				require.NoError(t, s.Set(r.Context(), "user", "alice"))
				h.do(func(w http.ResponseWriter, r *http.Request, s2 *Session) {
					v, ok, err := Value[string](s2, "user")
					require.NoError(t, err)
					require.True(t, ok)
					require.Equal(t, "alice", v, "a second copy is cached")
				}, c)
				if op == "renew" {
					require.NoError(t, s.Renew(r.Context()))
				} else {
					require.NoError(t, s.Destroy(r.Context()))
				}
			}, c)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				v, ok, err := s.Raw("user")
				require.NoError(t, err)
				assert.False(t, ok, "the old ID still serves %q after %s", v, op)
				assert.Empty(t, s.ID())
			}, c)
		})
	}
}

// hookStore runs a function once right after a successful Move or
// Create of the real engine, to put a revocation between the engine
// write and the manager's cache insert.
type hookStore struct {
	store.Store
	afterMove, afterCreate func()
}

func (h *hookStore) Version(ctx context.Context, key string) (uint64, error) {
	return h.Store.(store.Versioner).Version(ctx, key)
}

func (h *hookStore) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	return h.Store.(store.OwnerIndex).Owned(ctx, owner)
}

func (h *hookStore) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	rec, err := h.Store.Move(ctx, from, to, c)
	if f := h.afterMove; err == nil && f != nil {
		h.afterMove = nil
		f()
	}
	return rec, err
}

func (h *hookStore) Create(ctx context.Context, key string, rec store.Record) error {
	err := h.Store.Create(ctx, key, rec)
	if f := h.afterCreate; err == nil && f != nil {
		h.afterCreate = nil
		f()
	}
	return err
}

// A revocation that lands between the engine write of a renewal or a
// creation and the cache insert is not lost: the revoked session is not
// served from the cache.
func TestRevocationBeforeCacheInsert(t *testing.T) {
	for _, op := range []string{"renew", "create"} {
		t.Run(op, func(t *testing.T) {
			mem := memstore.New()
			t.Cleanup(func() { _ = mem.Close() })
			hs := &hookStore{Store: mem}
			h := newHarnessOn(t, hs, WithOwnerKey("user"))
			revoke := func() {
				n, err := h.m.RevokeAll(context.Background(), "alice")
				assert.NoError(t, err)
				assert.Equal(t, 1, n)
			}
			var c *http.Cookie
			if op == "create" {
				hs.afterCreate = revoke
				h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					require.NoError(t, s.Set(r.Context(), "user", "alice"))
					c = &http.Cookie{Name: "sid", Value: s.ID()}
				})
				require.NotEmpty(t, c.Value)
			} else {
				old := h.newSession("user", "alice")
				hs.afterMove = revoke
				rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					require.NoError(t, s.Renew(r.Context()))
				}, old)
				c = sidCookie(rec.Result())
				require.NotNil(t, c)
			}
			_, err := h.engineRecord(c)
			require.ErrorIs(t, err, store.ErrNotFound, "revoked in the engine")
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				v, ok, _ := s.Raw("user")
				assert.False(t, ok, "the revoked session is served from the cache: %q", v)
			}, c)
		})
	}
}

// An Update function may read the session (another key).
func TestUpdateFunctionReadsTheSession(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("max", 3)
	done := make(chan error, 1)
	go h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) {
			limit, _, err := Value[int](s, "max")
			return min(n+1, limit), err
		})
		done <- err
	}, c)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("an Update whose function reads the session never returned")
	}
}

// corruptingStore answers Load and Update of every session with
// ErrCorrupt once switched on, as an engine does for a damaged record.
type corruptingStore struct {
	store.Store
	on bool
}

func (c *corruptingStore) Version(ctx context.Context, key string) (uint64, error) {
	return c.Store.(store.Versioner).Version(ctx, key)
}

func (c *corruptingStore) Load(ctx context.Context, key string) (store.Record, error) {
	if c.on {
		return store.Record{}, fmt.Errorf("test engine: %w", store.ErrCorrupt)
	}
	return c.Store.Load(ctx, key)
}

func (c *corruptingStore) Update(ctx context.Context, key string, ch store.Change) (uint64, error) {
	if c.on {
		return 0, fmt.Errorf("test engine: %w", store.ErrCorrupt)
	}
	return c.Store.Update(ctx, key, ch)
}

// A record found damaged when an Update reads it again is treated as no
// session: reported, deleted, and the request's view of it is gone.
func TestUpdateReloadFindsCorruptRecord(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	cs := &corruptingStore{Store: mem}
	h := newHarnessOn(t, cs)
	c := h.newSession("n", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, _ = s.Raw("n")
		s.e.checked.Store(invalid) // as after a change message
		cs.on = true
		_, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) { return n + 1, nil })
		require.ErrorIs(t, err, ErrNotFound)
		_, ok, err := s.Raw("n")
		require.NoError(t, err)
		assert.False(t, ok, "the damaged session's cached value is still served")
	}, c)
	assert.Contains(t, h.log.String(), "corrupt")
	cs.on = false
	_, err := h.engineRecord(c)
	require.ErrorIs(t, err, store.ErrNotFound, "the damaged record was deleted")
}
