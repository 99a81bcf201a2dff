package session

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// A request on node A holds the session; meanwhile node B deletes it in
// one of the ways a session ends. A's Renew must then fail with
// ErrNotFound, leave the request without a session and revive nothing.
func TestRenewAfterDeletionElsewhere(t *testing.T) {
	ends := map[string]func(t *testing.T, b *harness, c *http.Cookie){
		"Revoke": func(t *testing.T, b *harness, c *http.Cookie) {
			require.NoError(t, b.m.Revoke(context.Background(), store.Key(c.Value)))
		},
		"RevokeAll": func(t *testing.T, b *harness, c *http.Cookie) {
			n, err := b.m.RevokeAll(context.Background(), "ada")
			require.NoError(t, err)
			assert.Equal(t, 1, n)
		},
		"RevokeOthers": func(t *testing.T, b *harness, c *http.Cookie) {
			other := b.newSession("uid", "ada")
			b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				n, err := b.m.RevokeOthers(r.Context(), s)
				require.NoError(t, err)
				assert.Equal(t, 1, n)
			}, other)
			require.NoError(t, b.m.Revoke(context.Background(), store.Key(other.Value)))
		},
		"Destroy": func(t *testing.T, b *harness, c *http.Cookie) {
			b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Destroy(r.Context()))
			}, c)
		},
		"Renew": func(t *testing.T, b *harness, c *http.Cookie) {
			b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Renew(r.Context()))
			}, c)
		},
	}
	for name, end := range ends {
		for _, mode := range []FlushMode{Immediate, OnResponse} {
			t.Run(name+"/"+mode.String(), func(t *testing.T) {
				a, b := twoNodes(t, WithOwnerKey("uid"), WithFlushMode(mode))
				c := a.newSession("uid", "ada")
				renewedOnB := name == "Renew"
				rec := a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					_, ok, err := Value[string](s, "uid") // loaded on A
					require.NoError(t, err)
					require.True(t, ok)
					require.NoError(t, s.Set(r.Context(), "cart", 3))
					end(t, b, c)
					err = s.Renew(r.Context())
					require.ErrorIs(t, err, ErrNotFound)
					assert.Empty(t, s.ID(), "no session after a failed renewal")
					_, ok, err = Value[string](s, "uid")
					require.NoError(t, err)
					assert.False(t, ok, "the deleted session's data is gone from the request")
				}, c)
				if mode == Immediate && !renewedOnB {
					// The Set went out before the deletion; it is gone with it.
					_, err := a.engineRecord(c)
					require.ErrorIs(t, err, store.ErrNotFound)
				}
				ck := sidCookie(rec.Result())
				require.NotNil(t, ck, "the client is told to forget its ID")
				assert.Equal(t, -1, ck.MaxAge)
				list, err := a.m.Sessions(context.Background(), "ada")
				require.NoError(t, err)
				if renewedOnB {
					assert.Len(t, list, 1, "only B's renewal is live")
				} else {
					assert.Empty(t, list, "nothing revived")
				}
			})
		}
	}
}

// A write acknowledged on node B is in the session node A renews, even
// though A's cached copy predates it.
func TestRenewKeepsWritesOfOtherNodes(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			a, b := twoNodes(t, WithFlushMode(mode))
			c := a.newSession("n", 1)
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { _ = s.Keys() }, c) // cached on A
			require.NoError(t, setOn(b, c, "cart", "book"))
			var id string
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "signed-in", true))
				require.NoError(t, s.Renew(r.Context()))
				id = s.ID()
				v, ok, err := Value[string](s, "cart")
				require.NoError(t, err)
				assert.True(t, ok, "the renewed session has B's write at once")
				assert.Equal(t, "book", v)
			}, c)
			rec, err := a.store.Store.Load(context.Background(), store.Key(id))
			require.NoError(t, err)
			assert.Contains(t, rec.Fields, "cart")
			assert.Contains(t, rec.Fields, "signed-in")
			assert.Contains(t, rec.Fields, "n")
			_, err = a.engineRecord(c)
			require.ErrorIs(t, err, store.ErrNotFound, "the old ID reaches nothing")
		})
	}
}
