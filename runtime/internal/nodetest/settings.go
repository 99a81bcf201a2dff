package nodetest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// persistentCookie reports whether a cookie outlives the browser.
func persistentCookie(c *http.Cookie) bool { return c.MaxAge > 0 || !c.Expires.IsZero() }

// settings checks the per-session settings through the engine: a
// remember-me choice and a deadline made on node A hold on node B (a
// request and its cookie), on node C from Manager.Load, in the engine's
// own expiry, and across a renewal on B; a later choice on B reaches A.
func settings(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Minute)
	ck := c.A().Do(nil, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.Set(r.Context(), "n", 1))
		require.NoError(t, s.SetPersistent(r.Context(), true))
		require.NoError(t, s.SetDeadline(r.Context(), deadline))
	})
	require.NotNil(t, ck)
	assert.True(t, persistentCookie(ck), "remember me: the cookie outlives the browser")

	rec, err := c.B().Store.Load(ctx, store.Key(ck.Value))
	require.NoError(t, err)
	assert.False(t, rec.Expires.After(deadline.Add(time.Second)), "the engine forgets the session by the deadline (%v, deadline %v)", rec.Expires, deadline)

	renewed := c.B().Do(ck, func(r *http.Request, s *session.Session) {
		assert.True(t, s.Persistent(), "B reads A's choice")
		assert.False(t, s.Expires().After(deadline), "and its deadline")
		assert.Equal(t, []string{"n"}, s.Keys(), "settings are not keys")
		require.NoError(t, s.Renew(r.Context()))
	})
	require.NotNil(t, renewed)
	assert.True(t, persistentCookie(renewed), "the renewed session's cookie is persistent too")

	s, err := c.C().M.Load(ctx, renewed.Value)
	require.NoError(t, err)
	assert.True(t, s.Persistent(), "a loaded session has the stored choice")
	assert.False(t, s.Expires().After(deadline), "and the deadline survived the renewal")

	off := c.B().Do(renewed, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.SetPersistent(r.Context(), false))
	})
	require.NotNil(t, off)
	assert.False(t, persistentCookie(off), "a browser-session cookie")
	Eventually(t, 10*time.Second, "A to see B's new choice", func() bool {
		var p bool
		c.A().Do(renewed, func(r *http.Request, s *session.Session) { p = s.Persistent() })
		return !p
	})
}

// clearRace checks Session.Clear through the engine, rounds times: a key
// that node B wrote (acknowledged) before node A's Clear began is
// removed even when A's copy had not heard of it, a write racing the
// Clear on C either lands after it (and stays) or before it (and is
// removed), and no node sees a key afterwards that the engine lacks.
func clearRace(t *testing.T, c *Cluster, rounds int) {
	t.Helper()
	for round := range rounds {
		ck := c.A().Create("a", 1)
		_, _, _ = c.A().Get(ck, "a") // cached on A
		require.NoError(t, c.B().Set(ck, "b", round))
		var wg sync.WaitGroup
		var raced error
		wg.Go(func() {
			raced = c.C().Set(ck, "c", round)
		})
		c.A().Do(ck, func(r *http.Request, s *session.Session) {
			require.NoError(t, s.Clear(r.Context()))
		})
		wg.Wait()
		require.NoError(t, raced)
		rec, err := c.A().Store.Load(context.Background(), store.Key(ck.Value))
		require.NoError(t, err)
		assert.NotContains(t, rec.Fields, "a")
		assert.NotContains(t, rec.Fields, "b", "B's acknowledged write came before the Clear: removed")
		for k := range rec.Fields {
			assert.Equal(t, "c", k, "only the racing write may stay")
		}
		_, hasC := rec.Fields["c"]
		for _, n := range c.Nodes {
			Eventually(t, 10*time.Second, "node "+n.Name+" to agree with the engine", func() bool {
				var keys []string
				n.Do(ck, func(r *http.Request, s *session.Session) { keys = s.Keys() })
				return len(keys) == map[bool]int{false: 0, true: 1}[hasC]
			})
		}
	}
}
