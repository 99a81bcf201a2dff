package session

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// TestEngineSeesOnlyAHash: every key the engine is given is the hash of
// the session's ID, never the ID (boltstore's tests check the file).
func TestEngineSeesOnlyAHash(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession("k", "v")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k2", "v2"))
	}, cookie)
	id := cookie.Value

	keys := h.store.seenKeys()
	require.NotEmpty(t, keys)
	for _, k := range keys {
		assert.NotContains(t, k, id)
		assert.Equal(t, store.Key(id), k)
	}
}

func TestIDsNeverLogged(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	cookie := h.newSession("k", 1)
	id := cookie.Value

	// Flush failure, load failure, extension failure, reported errors.
	h.store.failOn("update", errInjected)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "x", 1))
		s.Report(r.Context(), assert.AnError)
	}, cookie)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	h.store.failOn("update", nil)

	h2 := newHarnessOn(t, h.store, WithLogger(h.m.logger()))
	h.store.failOn("load", errInjected)
	rec = h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := Value[int](s, "k")
		require.ErrorIs(t, err, errInjected)
		assert.NotContains(t, err.Error(), id)
	}, cookie)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	h.store.failOn("load", nil)

	logs := h.log.String()
	assert.Contains(t, logs, errInjected.Error())
	assert.NotContains(t, logs, id)
}

// badCookies are cookie header values that must give a fresh session.
var badCookies = map[string]string{
	"empty":      "sid=",
	"malformed":  "sid=not-an-id",
	"wrong len":  "sid=" + strings.Repeat("A", 42),
	"8KB":        "sid=" + strings.Repeat("A", 8192),
	"non-ASCII":  "sid=" + strings.Repeat("é", 20) + "abc",
	"quotes":     `sid="` + strings.Repeat("A", 43) + `"`,
	"control":    "sid=\x00\x01\x7f",
	"many semis": strings.Repeat(";", 2000) + "sid=;;",
	"unknown id": "sid=" + mustID(),
}

func mustID() string {
	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}
	return id
}

func TestBadCookiesGiveFreshSession(t *testing.T) {
	for name, value := range badCookies {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			req, err := http.NewRequest(http.MethodGet, "/", nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", value)
			rec := doRequest(h, req, func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Equal(t, "", s.ID())
				assert.Empty(t, s.Keys())
				require.NoError(t, s.Set(r.Context(), "k", 1))
				assert.True(t, identity.ValidID(s.ID()))
				assert.NotContains(t, value, s.ID(), "never the client's choice")
			})
			assert.Equal(t, http.StatusOK, rec.Code)
			c := sidCookie(rec.Result())
			require.NotNil(t, c)
			assert.NotContains(t, value, c.Value)
		})
	}
}

func TestSignedCookies(t *testing.T) {
	signer, err := identity.NewSigner([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	h := newHarness(t, WithIdentities(&identity.Cookie{Signer: signer}))
	cookie := h.newSession("k", 1)
	assert.False(t, identity.ValidID(cookie.Value), "the cookie holds a signed token, not the bare ID")

	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		v, ok, err := Value[int](s, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 1, v)
	}, cookie)

	forged := map[string]string{
		"bare id":      "sid=" + mustID(),
		"flipped tag":  "sid=" + flipLast(cookie.Value),
		"other id":     "sid=" + mustID() + cookie.Value[43:],
		"empty":        "sid=",
		"8KB":          "sid=" + strings.Repeat("A", 8192),
		"non-ASCII":    "sid=" + strings.Repeat("ü", 40),
		"id only part": "sid=" + cookie.Value[:43],
	}
	for name, value := range forged {
		t.Run(name, func(t *testing.T) {
			before := h.store.calls()
			req, err := http.NewRequest(http.MethodGet, "/", nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", value)
			rec := doRequest(h, req, func(w http.ResponseWriter, r *http.Request, s *Session) {
				assert.Equal(t, "", s.ID())
				_, ok, err := Value[int](s, "k")
				require.NoError(t, err)
				assert.False(t, ok)
			})
			assert.Equal(t, before, h.store.calls(), "a forged token costs no engine call")
			assert.Equal(t, http.StatusOK, rec.Code)
		})
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func TestUnknownIDNeverAdopted(t *testing.T) {
	h := newHarness(t)
	chosen := mustID()
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 1))
		assert.NotEqual(t, chosen, s.ID())
	}, &http.Cookie{Name: "sid", Value: chosen})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	assert.NotEqual(t, chosen, c.Value)
	_, err := h.store.Store.Load(context.Background(), store.Key(chosen))
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnknownIDIsClearedWhenUsed(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := Value[int](s, "k")
		require.NoError(t, err)
	}, &http.Cookie{Name: "sid", Value: mustID()})
	c := sidCookie(rec.Result())
	require.NotNil(t, c, "the client is told to forget a dead ID")
	assert.Equal(t, "", c.Value)
	assert.Less(t, c.MaxAge, 0)
}

// doRequest sends req through the harness's manager to fn.
func doRequest(h *harness, req *http.Request, fn handle) *recorder {
	rec := newRecorder()
	h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r, FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec
}
