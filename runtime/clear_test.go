package session

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

func TestClearRemovesEveryKeyAndKeepsTheSession(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "a", 1))
				require.NoError(t, s.Set(r.Context(), "b", "two"))
				require.NoError(t, s.SetPersistent(r.Context(), true))
			})
			c := sidCookie(rec.Result())
			require.NotNil(t, c)
			before, err := h.engineRecord(c)
			require.NoError(t, err)

			updates := h.store.updates.Load()
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "c", 3)) // staged under OnResponse
				require.NoError(t, s.Clear(r.Context()))
				assert.Empty(t, s.Keys())
				assert.Equal(t, c.Value, s.ID(), "the ID stays")
				assert.Equal(t, StatusModified, s.Status())
				assert.True(t, s.Persistent(), "settings stay")
			}, c)
			if mode == Immediate {
				assert.Equal(t, updates+2, h.store.updates.Load(), "the Set, then one change for Clear")
			} else {
				assert.Equal(t, updates+1, h.store.updates.Load(), "the staged Set is dropped; one change for Clear")
			}
			after, err := h.engineRecord(c)
			require.NoError(t, err)
			assert.Len(t, after.Fields, 1, "only the setting is left: %v", after.Fields)
			assert.Contains(t, after.Fields, keyPersistent)
			assert.Equal(t, before.Created.UnixNano(), after.Created.UnixNano(), "the creation time stays")

			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Empty(t, s.Keys(), "a later request sees it empty")
				assert.True(t, s.Persistent())
				require.NoError(t, s.Set(r.Context(), "d", 4))
				assert.Equal(t, c.Value, s.ID())
			}, c)
		})
	}
}

func TestClearRemovesKeysThisProcessHasNotSeen(t *testing.T) {
	a, b := twoNodes(t, WithMaxStaleness(time.Hour)) // no bus: a's copy stays stale
	c := a.newSession("a", 1)
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, []string{"a"}, s.Keys())
	}, c)
	require.NoError(t, setOn(b, c, "other", 2))
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Clear(r.Context()))
	}, c)
	rec, err := a.engineRecord(c)
	require.NoError(t, err)
	assert.Empty(t, rec.Fields, "the key written on another node is removed too")
}

func TestClearRetriesAWriteThatRacesIt(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	raced := false
	h.store.setAfterLoad(func(key string) {
		if raced {
			return
		}
		raced = true // another process changes "a" between Clear's read and its change
		b, err := encode(10)
		require.NoError(t, err)
		_, err = h.store.Store.Update(context.Background(), key, store.Change{Set: map[string][]byte{"a": b, "late": b}})
		require.NoError(t, err)
	})
	conflicts := h.m.Stats().Conflicts
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Clear(r.Context()))
	}, c)
	h.store.setAfterLoad(nil)
	require.True(t, raced)
	assert.Equal(t, conflicts+1, h.m.Stats().Conflicts, "the first try met the change and was refused")
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Empty(t, rec.Fields, "the second try removed what the racer wrote")
}

func TestClearWithoutASession(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "a", 1)) // staged, nothing stored yet
		require.NoError(t, s.Clear(r.Context()))
		assert.Empty(t, s.Keys())
		assert.Equal(t, StatusUnchanged, s.Status())
	})
	assert.Nil(t, sidCookie(rec.Result()), "no session was created")
	assert.Zero(t, h.store.creates.Load())

	var nilSession *Session
	assert.ErrorIs(t, nilSession.Clear(context.Background()), ErrNoSession)
}

func TestClearLeavesTheOwnersList(t *testing.T) {
	h := newHarness(t, WithOwnerKey("uid"))
	c := h.newSession("uid", "ada")
	list, err := h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	require.Len(t, list, 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Clear(r.Context()))
	}, c)
	list, err = h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Equal(t, "", h.owner(c))
}
