package session

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/codec"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// owner returns the owner the engine has for the session of c.
func (h *harness) owner(c *http.Cookie) string {
	h.t.Helper()
	rec, err := h.engineRecord(c)
	require.NoError(h.t, err)
	return rec.Owner
}

func TestOwnerValues(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithOwnerKey("uid"), WithFlushMode(mode))
			c := h.newSession("uid", "ada")
			assert.Equal(t, "ada", h.owner(c), "the creation carries the owner")
			assert.Zero(t, h.store.updates.Load())

			set := func(v any) error {
				var err error
				h.do(func(w http.ResponseWriter, r *http.Request, s *Session) { err = s.Set(r.Context(), "uid", v) }, c)
				return err
			}
			for _, tc := range []struct {
				v    any
				want string
			}{
				{int64(42), "42"}, {-5, "-5"}, {uint64(math.MaxUint64), "18446744073709551615"},
				{int8(3), "3"}, {"bob", "bob"}, {"", ""}, {nil, ""},
			} {
				require.NoError(t, set(tc.v), "%T", tc.v)
				assert.Equal(t, tc.want, h.owner(c), "%T %v", tc.v, tc.v)
			}
			require.NoError(t, set("carol"))
			for _, bad := range []any{1.5, true, []byte("x"), []string{"a"}, "bad\x00", "\xff"} {
				err := set(bad)
				require.ErrorIs(t, err, ErrInvalidOwner, "%T", bad)
				assert.Contains(t, err.Error(), `"uid"`, "the error names the key")
				assert.Equal(t, "carol", h.owner(c), "nothing changed")
			}
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				v, _, err := Value[string](s, "uid")
				require.NoError(t, err)
				assert.Equal(t, "carol", v)
			}, c)

			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Remove(r.Context(), "uid"))
			}, c)
			assert.Equal(t, "", h.owner(c), "removing the key clears the owner")

			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.SetRawFields(r.Context(), []Field{
					{Key: "uid", Value: codec.AppendString(nil, "dave")},
					{Key: "other", Value: codec.AppendInt(nil, 1)},
				}))
				err := s.SetRawFields(r.Context(), []Field{{Key: "uid", Value: codec.AppendFloat64(nil, 2)}})
				require.ErrorIs(t, err, ErrInvalidOwner)
			}, c)
			assert.Equal(t, "dave", h.owner(c))

			// Writes that do not touch the key leave the owner alone.
			owned, err := h.store.Store.(store.OwnerIndex).Owned(context.Background(), "dave")
			require.NoError(t, err)
			require.Len(t, owned, 1)
			assert.Equal(t, store.Key(c.Value), owned[0].Key)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "x", 1))
			}, c)
			for _, ch := range h.store.changes() {
				if _, ok := ch.Set["x"]; ok {
					assert.Nil(t, ch.Owner)
				}
			}
			assert.Equal(t, "dave", h.owner(c))
		})
	}
}

func TestOwnerKeptByRenew(t *testing.T) {
	h := newHarness(t, WithOwnerKey("uid"))
	c := h.newSession("uid", "ada")
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
	}, c)
	nc := sidCookie(rec.Result())
	require.NotNil(t, nc)
	assert.Equal(t, "ada", h.owner(nc))
	list, err := h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, store.Key(nc.Value), list[0].Handle)

	// Renewing with a pending owner change (OnResponse) moves it too.
	h2 := newHarness(t, WithOwnerKey("uid"), WithFlushMode(OnResponse))
	c2 := h2.newSession("uid", "ada")
	rec = h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "uid", "bob"))
		require.NoError(t, s.Renew(r.Context()))
	}, c2)
	nc2 := sidCookie(rec.Result())
	require.NotNil(t, nc2)
	assert.Equal(t, "bob", h2.owner(nc2))
}

func TestSessionsTimes(t *testing.T) {
	h := newHarness(t, WithOwnerKey("uid"), WithIdleTimeout(time.Hour), WithLifetime(2*time.Hour))
	created := h.clock.Now()
	c := h.newSession("uid", "ada")
	h.clock.Advance(20 * time.Minute)
	ok, _ := h.read(c) // extends the expiry (a quarter of the idle timeout has passed)
	require.False(t, ok, "no key k, but the session is used")
	require.Equal(t, int64(1), h.store.updates.Load())
	list, err := h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	require.Len(t, list, 1)
	info := list[0]
	assert.Equal(t, store.Key(c.Value), info.Handle)
	assert.True(t, info.Created.Equal(created), "%v %v", info.Created, created)
	assert.True(t, info.LastSeen.Equal(created.Add(20*time.Minute)), "%v", info.LastSeen.Sub(created))
	assert.True(t, info.Expires.Equal(created.Add(80*time.Minute)), "%v", info.Expires.Sub(created))

	h.clock.Advance(30 * time.Minute) // 50m: last seen 20m, expires 1h20m
	list, err = h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	require.Len(t, list, 1)
	h.clock.Advance(31 * time.Minute) // 1h21m: past the idle deadline
	list, err = h.m.Sessions(context.Background(), "ada")
	require.NoError(t, err)
	assert.Empty(t, list, "sessions past this manager's deadlines are left out")
}

func TestOwnerOperationsNeedKeyAndIndex(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, err := h.m.Sessions(ctx, "ada")
	require.ErrorIs(t, err, ErrNoOwnerKey)
	_, err = h.m.RevokeAll(ctx, "ada")
	require.ErrorIs(t, err, ErrNoOwnerKey)

	hp := newHarnessOn(t, plainStore{sharedEngine(t)}, WithOwnerKey("uid"))
	_, err = hp.m.Sessions(ctx, "ada")
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = hp.m.RevokeAll(ctx, "ada")
	require.ErrorIs(t, err, ErrUnsupported)
	c := hp.newSession("uid", "ada")
	hp.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := hp.m.RevokeOthers(r.Context(), s)
		require.ErrorIs(t, err, ErrUnsupported)
	}, c)

	ho := newHarness(t, WithOwnerKey("uid"))
	_, err = ho.m.Sessions(ctx, "")
	require.ErrorIs(t, err, ErrNoOwner)
	_, err = ho.m.RevokeAll(ctx, "")
	require.ErrorIs(t, err, ErrNoOwner)
	_, err = ho.m.RevokeOthers(ctx, nil)
	require.ErrorIs(t, err, ErrNoSession)
	anon := ho.newSession("k", 1)
	ho.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := ho.m.RevokeOthers(r.Context(), s)
		require.ErrorIs(t, err, ErrNoOwner, "a session without an owner")
	}, anon)
	ho.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := ho.m.RevokeOthers(r.Context(), s)
		require.ErrorIs(t, err, ErrNoSession, "a request without a session")
	})
	ho.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := h.m.RevokeOthers(r.Context(), s)
		require.Error(t, err, "a session of another manager")
	}, anon)
}

func TestRevokeOthersKeepsCurrent(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithOwnerKey("uid"), WithFlushMode(mode))
			a, b := h.newSession("uid", 1), h.newSession("uid", 1)
			fresh := h.newSession("k", 1) // signs in below
			var n int
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "uid", 1)) // pending under OnResponse
				var err error
				n, err = h.m.RevokeOthers(r.Context(), s)
				require.NoError(t, err)
			}, fresh)
			assert.Equal(t, 2, n)
			for _, c := range []*http.Cookie{a, b} {
				_, err := h.engineRecord(c)
				require.ErrorIs(t, err, store.ErrNotFound)
				ok, _ := h.read(c)
				assert.False(t, ok)
			}
			assert.Equal(t, "1", h.owner(fresh))
			list, err := h.m.Sessions(context.Background(), "1")
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, store.Key(fresh.Value), list[0].Handle)
		})
	}
}

func TestRevokeAllDropsCachedCopies(t *testing.T) {
	h := newHarness(t, WithOwnerKey("uid"))
	a := h.newSession("uid", "ada")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 1))
	}, a)
	ok, _ := h.read(a)
	require.True(t, ok)
	n, err := h.m.RevokeAll(context.Background(), "ada")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, cached := h.m.cache.GetIfPresent(a.Value)
	assert.False(t, cached)
	ok, _ = h.read(a)
	assert.False(t, ok)
	n, err = h.m.RevokeAll(context.Background(), "ada")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left")
}

func TestRevokeAllReportsFailures(t *testing.T) {
	h := newHarness(t, WithOwnerKey("uid"))
	a, b := h.newSession("uid", "ada"), h.newSession("uid", "ada")
	h.store.failOn("update:"+store.Key(a.Value), errInjected)
	n, err := h.m.RevokeAll(context.Background(), "ada")
	require.ErrorIs(t, err, errInjected)
	assert.Equal(t, 1, n)
	_, err = h.engineRecord(b)
	require.ErrorIs(t, err, store.ErrNotFound, "the other one was deleted")
	_, err = h.engineRecord(a)
	require.NoError(t, err)
}

func TestRevokeByHandle(t *testing.T) {
	var ev events
	h := newHarness(t, WithOwnerKey("uid"), WithHooks(ev.hooks()))
	ctx := context.Background()
	c := h.newSession("uid", "ada")
	require.ErrorIs(t, h.m.Revoke(ctx, "not a handle"), ErrInvalidHandle)
	require.ErrorIs(t, h.m.Revoke(ctx, c.Value[:43]), ErrNotFound, "a valid-looking handle of nothing")
	ok, _ := h.read(c)
	require.False(t, ok) // cached, no key k
	require.NoError(t, h.m.Revoke(ctx, store.Key(c.Value)))
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, "", s.ID(), "revoked")
	}, c)
	got := ev.wait(t, 2)
	assert.Equal(t, Event{Kind: EventDestroyed, Handle: store.Key(c.Value), Owner: "ada", At: got[1].At}, got[1])
	require.ErrorIs(t, h.m.Revoke(ctx, store.Key(c.Value)), ErrNotFound)
}
