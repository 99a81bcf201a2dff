package session

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatus(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			var nilSession *Session
			assert.Equal(t, StatusUnchanged, nilSession.Status())
			rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				ctx := r.Context()
				assert.Equal(t, StatusUnchanged, s.Status())
				_, _, _ = Value[int](s, "n")
				assert.Equal(t, StatusUnchanged, s.Status(), "a read changes nothing")
				require.NoError(t, s.Remove(ctx, "n"))
				assert.Equal(t, StatusUnchanged, s.Status(), "removing from no session changes nothing")
				require.NoError(t, s.Set(ctx, "n", 1))
				assert.Equal(t, StatusNew, s.Status())
				require.NoError(t, s.Set(ctx, "m", 2))
				assert.Equal(t, StatusNew, s.Status(), "still the request that created it")
				assert.Equal(t, "new", s.Status().String())
			})
			c := sidCookie(rec.Result())
			require.NotNil(t, c)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				_, _, _ = Value[int](s, "n")
				assert.Equal(t, StatusUnchanged, s.Status())
				require.NoError(t, s.Set(r.Context(), "n", 2))
				assert.Equal(t, StatusModified, s.Status())
			}, c)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				_, err := Update(r.Context(), s, "n", incr)
				require.NoError(t, err)
				assert.Equal(t, StatusModified, s.Status(), "an update")
			}, c)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				_, ok, err := Pop[int](r.Context(), s, "absent")
				require.NoError(t, err)
				require.False(t, ok)
				assert.Equal(t, StatusUnchanged, s.Status(), "a Pop that finds nothing")
				require.NoError(t, s.Renew(r.Context()))
				assert.Equal(t, StatusModified, s.Status(), "a renewal")
				c = nil
			}, c)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "x", 1))
				require.NoError(t, s.Destroy(r.Context()))
				assert.Equal(t, StatusDestroyed, s.Status())
				require.NoError(t, s.Set(r.Context(), "y", 1))
				assert.Equal(t, StatusNew, s.Status(), "a write after Destroy creates a session")
			})
			assert.Equal(t, "Status(9)", Status(9).String())
		})
	}
}

func TestCreatedAndExpires(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour), WithLifetime(3*time.Hour))
	start := h.clock.Now()
	var created time.Time
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.True(t, s.Created().IsZero(), "no session yet")
		assert.True(t, s.Expires().IsZero())
		require.NoError(t, s.Set(r.Context(), "n", 1))
		created = s.Created()
		assert.True(t, created.Equal(start), "created %v, want %v", created, start)
		assert.True(t, s.Expires().Equal(start.Add(time.Hour)), "the idle timeout first")
	})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)

	// Past a quarter of the idle window the expiry slides, up to the
	// lifetime (150 minutes in: min(150+60, 180)); the creation time
	// stays, renewals included.
	for range 3 {
		h.clock.Advance(50 * time.Minute)
		h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			_, _, _ = Value[int](s, "n")
		}, c)
	}
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
		assert.True(t, s.Created().Equal(created), "renewal keeps the creation time")
		assert.True(t, s.Expires().Equal(start.Add(3*time.Hour)), "capped by the lifetime: %v", s.Expires().Sub(start))
		require.NoError(t, s.Destroy(r.Context()))
		assert.True(t, s.Created().IsZero(), "after Destroy")
	}, c)
}
