package session

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// persistentCookie reports whether c outlives the browser: it carries
// Max-Age or Expires.
func persistentCookie(c *http.Cookie) bool {
	return c.MaxAge > 0 || !c.Expires.IsZero()
}

func TestSetPersistentChoosesTheCookie(t *testing.T) {
	for _, configured := range []bool{false, true} {
		t.Run(map[bool]string{false: "browser-session identity", true: "persistent identity"}[configured], func(t *testing.T) {
			h := newHarness(t, WithIdentities(&identity.Cookie{Persistent: configured}))
			var c *http.Cookie
			for _, want := range []bool{!configured, configured, !configured} {
				rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					require.NoError(t, s.SetPersistent(r.Context(), want))
					assert.Equal(t, want, s.Persistent(), "this request sees its choice")
				}, c)
				got := sidCookie(rec.Result())
				require.NotNil(t, got, "the choice sends the cookie again")
				assert.Equal(t, want, persistentCookie(got), "cookie %v", got)
				if c != nil {
					assert.Equal(t, c.Value, got.Value, "same session")
				}
				c = got
			}
		})
	}
}

func TestPersistentKeptAcrossRequestsAndRenew(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.False(t, s.Persistent(), "the default identity's choice")
		require.NoError(t, s.SetPersistent(r.Context(), true))
	})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	require.True(t, persistentCookie(c))

	// Sliding expiry sends the cookie again: still persistent, with the
	// moved expiry.
	h.clock.Advance(40 * time.Minute)
	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.True(t, s.Persistent(), "a later request reads the stored choice")
		_, _, err := Value[int](s, "none")
		require.NoError(t, err)
	}, c)
	slid := sidCookie(rec.Result())
	require.NotNil(t, slid, "a persistent cookie follows the moved expiry")
	assert.True(t, persistentCookie(slid))
	assert.Equal(t, c.Value, slid.Value)

	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
		assert.True(t, s.Persistent(), "Renew keeps the choice")
	}, c)
	renewed := sidCookie(rec.Result())
	require.NotNil(t, renewed)
	assert.NotEqual(t, c.Value, renewed.Value)
	assert.True(t, persistentCookie(renewed), "the renewed ID's cookie is persistent too")

	// A browser-session choice survives Renew as well.
	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), false))
	}, renewed)
	off := sidCookie(rec.Result())
	require.NotNil(t, off)
	assert.False(t, persistentCookie(off))
	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
	}, off)
	again := sidCookie(rec.Result())
	require.NotNil(t, again)
	assert.False(t, persistentCookie(again), "Renew keeps a browser-session cookie")
}

func TestPersistentSeenByAnotherNode(t *testing.T) {
	a, b := twoNodes(t)
	rec := a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), true))
	})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.True(t, s.Persistent(), "the choice is stored with the session")
		assert.Empty(t, s.Keys(), "settings are not user keys")
	}, c)
}

func TestSettingsAfterHeadersRefused(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.WriteHeader(http.StatusNoContent)
		err := s.SetPersistent(r.Context(), true)
		assert.ErrorIs(t, err, ErrHeadersWritten)
		err = s.SetDeadline(r.Context(), h.clock.Now().Add(time.Minute))
		assert.ErrorIs(t, err, ErrHeadersWritten)
	}, c)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.False(t, s.Persistent(), "nothing was stored")
	}, c)
}

func TestSetDeadlineShortensAndCaps(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour), WithLifetime(24*time.Hour))
	c := h.newSession("k", 1)
	deadline := h.clock.Now().Add(30 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetDeadline(r.Context(), deadline))
		assert.WithinDuration(t, deadline, s.Expires(), time.Millisecond, "the expiry moved to the deadline")
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.WithinDuration(t, deadline, rec.Expires, time.Millisecond, "the engine keeps it until the deadline only")

	// Sliding expiry never passes the deadline.
	h.clock.Advance(20 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 2))
		assert.False(t, s.Expires().After(deadline), "expires %v after the deadline %v", s.Expires(), deadline)
	}, c)
	rec, err = h.engineRecord(c)
	require.NoError(t, err)
	assert.False(t, rec.Expires.After(deadline))

	// Renew keeps the deadline.
	resp := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
		assert.False(t, s.Expires().After(deadline))
	}, c)
	renewed := sidCookie(resp.Result())
	require.NotNil(t, renewed)
	rec, err = h.engineRecord(renewed)
	require.NoError(t, err)
	assert.False(t, rec.Expires.After(deadline), "the renewed record keeps the deadline")

	// Past the deadline the session is gone.
	h.clock.Advance(11 * time.Minute)
	ok, _ := h.read(renewed)
	assert.False(t, ok)
}

func TestSetDeadlineLaterLetsSlidingReachIt(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	start := h.clock.Now()
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetDeadline(r.Context(), start.Add(10*time.Minute)))
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.WithinDuration(t, start.Add(10*time.Minute), rec.Expires, time.Millisecond)

	// A later deadline gives sliding expiry its room back: the idle
	// timeout applies again, up to the new deadline.
	late := start.Add(90 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetDeadline(r.Context(), late))
	}, c)
	rec, err = h.engineRecord(c)
	require.NoError(t, err)
	assert.WithinDuration(t, start.Add(time.Hour), rec.Expires, time.Millisecond, "now + idle timeout, within the new deadline")

	h.clock.Advance(20 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 2))
		assert.WithinDuration(t, start.Add(80*time.Minute), s.Expires(), time.Millisecond, "slid by the idle timeout")
	}, c)
	h.clock.Advance(50 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 3))
		assert.WithinDuration(t, late, s.Expires(), time.Millisecond, "capped at the new deadline")
	}, c)
	rec, err = h.engineRecord(c)
	require.NoError(t, err)
	assert.WithinDuration(t, late, rec.Expires, time.Millisecond)
}

func TestSetDeadlineRefusesThePast(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		before := s.Expires()
		err := s.SetDeadline(r.Context(), h.clock.Now())
		assert.ErrorIs(t, err, ErrInvalidValue)
		err = s.SetDeadline(r.Context(), h.clock.Now().Add(-time.Hour))
		assert.ErrorIs(t, err, ErrInvalidValue)
		assert.Equal(t, before, s.Expires(), "nothing changed")
	}, c)
	var nilSession *Session
	assert.ErrorIs(t, nilSession.SetDeadline(context.Background(), time.Now().Add(time.Hour)), ErrNoSession)
	assert.ErrorIs(t, nilSession.SetPersistent(context.Background(), true), ErrNoSession)
	assert.False(t, nilSession.Persistent())
}

func TestReservedKeysRefused(t *testing.T) {
	assert.False(t, ValidKey(ReservedPrefix+"x"))
	assert.False(t, ValidKey(keyPersistent))
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), true))
		err := s.Set(r.Context(), keyPersistent, false)
		assert.ErrorIs(t, err, ErrInvalidKey, "a user cannot write a setting as a key")
		err = s.Remove(r.Context(), keyPersistent)
		assert.ErrorIs(t, err, ErrInvalidKey)
		_, ok, _ := Value[bool](s, keyPersistent)
		assert.False(t, ok, "a setting is not readable as a key")
		_, ok, _ = s.Raw(keyPersistent)
		assert.False(t, ok, "nor raw")
		assert.Empty(t, s.Keys())
		assert.True(t, s.Persistent())
	})
}

func TestSettingsCountAgainstSize(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 1))
		before := s.Size()
		require.NoError(t, s.SetPersistent(r.Context(), true))
		require.NoError(t, s.SetDeadline(r.Context(), h.clock.Now().Add(time.Hour)))
		assert.Equal(t, before+SettingsSize, s.Size(), "both settings at their largest: SettingsSize")
	})
}

func TestCorruptSettingDropped(t *testing.T) {
	assert.True(t, validSetting(keyPersistent, []byte{0xc3}))
	assert.True(t, validSetting(keyPersistent, []byte{0xc2}))
	assert.False(t, validSetting(keyPersistent, []byte{0x01}))
	assert.False(t, validSetting(keyPersistent, nil))
	b, err := encode(time.Now().UnixNano())
	require.NoError(t, err)
	assert.True(t, validSetting(keyDeadline, b))
	assert.False(t, validSetting(keyDeadline, []byte{0xa1, 'x'}))
	assert.False(t, validSetting(ReservedPrefix+"zz", []byte{0xc3}), "an unknown reserved key")
}
