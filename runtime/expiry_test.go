package session

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// read runs a request on cookie that reads key "k" and returns whether
// the session still had it, with the response.
func (h *harness) read(c *http.Cookie) (bool, *recorder) {
	h.t.Helper()
	var found bool
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Value[int](s, "k")
		require.NoError(h.t, err)
		found = ok
	}, c)
	return found, rec
}

func TestIdleTimeoutEnforcedOnRead(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	h2 := newHarnessOn(t, h.store.Store, WithIdleTimeout(time.Hour))
	h2.m.now = h.clock.Now
	h.clock.Advance(time.Hour) // exactly at the deadline: expired

	_, err := h.engineRecord(c)
	require.NoError(t, err, "the engine (real clock) still has it")
	ok, rec := h2.read(c)
	assert.False(t, ok, "a fresh cache loads it from the engine and refuses it")
	assert.NotNil(t, sidCookie(rec.Result()), "and tells the client to forget it")
	ok, _ = h.read(c)
	assert.False(t, ok, "the cached copy is refused too")
}

func TestIdleTimeoutEnforcedOnCachedSession(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	h.clock.Advance(time.Hour + time.Second)
	ok, _ := h.read(c)
	assert.False(t, ok)
	_, cached := h.m.cache.GetIfPresent(c.Value)
	assert.False(t, cached, "the expired session left the cache")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "x", 1))
		assert.NotEqual(t, c.Value, s.ID(), "a Set after expiry starts a new session")
	}, c)
}

func TestAbsoluteLifetimeEnforcedWhileActive(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour), WithLifetime(2*time.Hour))
	c := h.newSession("k", 1)
	for range 5 { // active every 20 minutes: idle never bites
		h.clock.Advance(20 * time.Minute)
		ok, _ := h.read(c)
		require.True(t, ok)
	}
	h.clock.Advance(19 * time.Minute) // 1h59m
	ok, _ := h.read(c)
	require.True(t, ok)
	h.clock.Advance(time.Minute) // 2h: the lifetime is over
	ok, _ = h.read(c)
	assert.False(t, ok)
}

func TestSlidingExtensionIsThrottled(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	created := h.clock.Now()

	h.clock.Advance(14 * time.Minute)
	ok, rec := h.read(c)
	require.True(t, ok)
	assert.Zero(t, h.store.updates.Load(), "less than a quarter of the window: no engine write")
	assert.Nil(t, sidCookie(rec.Result()), "and no cookie")

	h.clock.Advance(time.Minute) // 15m: a quarter
	ok, rec = h.read(c)
	require.True(t, ok)
	require.Equal(t, int64(1), h.store.updates.Load())
	ch := h.store.changes()[0]
	assert.Empty(t, ch.Set)
	assert.Empty(t, ch.Remove)
	assert.Equal(t, created.Add(75*time.Minute), ch.Expires)
	assert.Nil(t, sidCookie(rec.Result()), "a browser-session cookie has no expiry to update")
	er, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.True(t, er.Expires.Equal(created.Add(75*time.Minute)))

	for range 3 {
		h.clock.Advance(4 * time.Minute)
		ok, _ = h.read(c)
		require.True(t, ok)
	}
	assert.Equal(t, int64(1), h.store.updates.Load(), "12 more minutes: still no write")
	h.clock.Advance(3 * time.Minute)
	ok, _ = h.read(c)
	require.True(t, ok)
	assert.Equal(t, int64(2), h.store.updates.Load())
}

func TestExtensionGoesWithChanges(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithIdleTimeout(time.Hour), WithFlushMode(mode))
			c := h.newSession("k", 1)
			h.clock.Advance(30 * time.Minute)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "x", 2))
			}, c)
			require.Equal(t, int64(1), h.store.updates.Load(), "one engine call for the write and the extension")
			ch := h.store.changes()[0]
			assert.Contains(t, ch.Set, "x")
			assert.False(t, ch.Expires.IsZero())
		})
	}
}

func TestInactivitySurvivesThreeQuartersOfIdle(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	h.clock.Advance(14*time.Minute + 59*time.Second) // used, but not extended
	ok, _ := h.read(c)
	require.True(t, ok)
	require.Zero(t, h.store.updates.Load())
	h.clock.Advance(45 * time.Minute) // 3/4 of the timeout of inactivity
	ok, _ = h.read(c)
	assert.True(t, ok)
}

func TestPersistentCookieFollowsExpiry(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour), WithIdentities(&identity.Cookie{Persistent: true}))
	c := h.newSession("k", 1)
	assert.InDelta(t, 3600, c.MaxAge, 2)
	h.clock.Advance(20 * time.Minute)
	_, rec := h.read(c)
	nc := sidCookie(rec.Result())
	require.NotNil(t, nc)
	assert.Equal(t, c.Value, nc.Value)
	assert.InDelta(t, 3600+20*60, nc.MaxAge, 2, "the new expiry (the cookie counts from the real clock)")
}

func TestLateUseIsExtendedAfterHeaders(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	h.clock.Advance(30 * time.Minute)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _ = w.Write([]byte("streamed first"))
		_, ok, err := Value[int](s, "k")
		require.NoError(t, err)
		require.True(t, ok)
	}, c)
	assert.Equal(t, "streamed first", rec.Body.String())
	assert.Equal(t, int64(1), h.store.updates.Load(), "the extension is sent when the handler returns")
}
