package session

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

func TestDefaults(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	assert.Equal(t, 1024, m.maxSize)
	assert.Equal(t, 100_000, m.cacheLimit)
	assert.Equal(t, time.Hour, m.cacheTTL)
	assert.Equal(t, 24*time.Hour, m.idle)
	assert.Equal(t, 7*24*time.Hour, m.lifetime)
	assert.Equal(t, Immediate, m.mode)
	require.Len(t, m.ids, 1)
	assert.NotNil(t, m.store)
}

func TestInvalidOptions(t *testing.T) {
	cases := map[string]Option{
		"nil store":          WithStore(nil),
		"no identities":      WithIdentities(),
		"nil identity":       WithIdentities(nil),
		"invalid cookie":     WithIdentities(&identity.Cookie{Name: "bad name"}),
		"zero max size":      WithMaxSize(0),
		"negative max size":  WithMaxSize(-1),
		"zero cache limit":   WithCacheLimit(0),
		"zero cache TTL":     WithCacheTTL(0),
		"negative cache TTL": WithCacheTTL(-time.Second),
		"zero idle":          WithIdleTimeout(0),
		"negative lifetime":  WithLifetime(-time.Hour),
		"unknown flush mode": WithFlushMode(FlushMode(7)),
		"nil error handler":  WithErrorHandler(nil),
		"nil logger":         WithLogger(nil),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := New(opt)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), "session: With")
		})
	}
}

func TestSeveralIdentitiesFirstMatchWins(t *testing.T) {
	app := &identity.Cookie{Name: "app_sid", Path: "/app"}
	site := &identity.Cookie{Name: "site_sid"}
	h := newHarness(t, WithIdentities(app, site))
	for path, name := range map[string]string{"/app/x": "app_sid", "/other": "site_sid"} {
		req, err := http.NewRequest(http.MethodGet, path, nil)
		require.NoError(t, err)
		rec := doRequest(h, req, func(w http.ResponseWriter, r *http.Request, s *Session) {
			require.NoError(t, s.Set(r.Context(), "k", 1))
		})
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		assert.Equal(t, name, cookies[0].Name, path)
	}
}

func TestHeaderIdentity(t *testing.T) {
	h := newHarness(t, WithIdentities(identity.DefaultHeader()))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 1))
	})
	token := rec.Header().Get(identity.DefaultHeaderName)
	require.True(t, identity.ValidID(token), "the header identity sends the ID in %s", identity.DefaultHeaderName)
	assert.Empty(t, rec.Header().Values("Set-Cookie"))

	req, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	req.Header.Set(identity.DefaultHeaderName, token)
	doRequest(h, req, func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, token, s.ID())
	})
}

func TestFlushModeString(t *testing.T) {
	assert.Equal(t, "Immediate", Immediate.String())
	assert.Equal(t, "OnResponse", OnResponse.String())
	assert.Equal(t, "FlushMode(9)", FlushMode(9).String())
}

func TestWithProvenSize(t *testing.T) {
	_, err := New(WithProvenSize("UserSession", 101), WithMaxSize(40))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "size limit 40")
	assert.Contains(t, err.Error(), "101 bytes")
	assert.Contains(t, err.Error(), "UserSession")
	_, err = New(WithMaxSize(40), WithProvenSize("UserSession", 101))
	require.Error(t, err, "order does not matter")
	m, err := New(WithProvenSize("UserSession", 101), WithMaxSize(101))
	require.NoError(t, err)
	require.NoError(t, m.Close())
	m, err = New(WithProvenSize("A", 2000), WithMaxSize(2048), WithProvenSize("B", 100))
	require.NoError(t, err, "the largest proof counts")
	require.NoError(t, m.Close())
	_, err = New(WithProvenSize("A", 2000))
	require.ErrorContains(t, err, "below the 2000 bytes", "the default limit of 1024 is too small")
	_, err = New(WithProvenSize("A", -1))
	require.Error(t, err)
}
