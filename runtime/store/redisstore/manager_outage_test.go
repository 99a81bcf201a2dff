package redisstore_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// TestManagerSurvivesOutage stops the Redis server under a running
// session.Manager in the middle of a run: requests that need the engine
// get the error handler's 500 (never a panic, never a silently lost
// write), and once the server is back the same Manager, in the same
// process, serves and writes sessions again.
func TestManagerSurvivesOutage(t *testing.T) {
	srv := redisserver.Start(t, "SESSIONGEN_REDIS_ADDR")
	st, err := redisstore.New(client(t, srv, time.Second))
	require.NoError(t, err)
	m, err := session.New(session.WithStore(st),
		session.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })

	// POST sets n; GET reads it (a write also proves the engine answers).
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if r.Method == http.MethodPost {
			n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
			if err == nil {
				err = s.Set(r.Context(), "n", n)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		n, _, err := session.Value[int64](s, "n")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	do := func(method, q string, cookies []*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/?"+q, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := do(http.MethodPost, "n=1", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	cookies := w.Result().Cookies()
	require.NotEmpty(t, cookies, "the first Set sends the session cookie")

	srv.Kill()
	// A write needs the engine: it fails with an error, nothing panics,
	// and the cached value is not changed behind the engine's back.
	w = do(http.MethodPost, "n=2", cookies)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a write while Redis is down fails")
	assert.Contains(t, w.Body.String(), "redisstore", "the error names the engine")
	w = do(http.MethodGet, "", cookies)
	assert.Equal(t, http.StatusOK, w.Code, "a warm read needs no engine")
	assert.Equal(t, "1", w.Body.String(), "the failed write changed nothing in the cache")
	// A new visitor's first write fails too.
	w = do(http.MethodPost, "n=5", nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Result().Cookies(), "no cookie for a session the engine never got")

	srv.Restart() // empty: the server keeps nothing across restarts
	// The same manager works again without a restart of the process:
	// a new session is written and read back through the engine.
	require.Eventually(t, func() bool {
		return do(http.MethodPost, "n=3", nil).Code == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "the manager writes again after the restart")
	w = do(http.MethodPost, "n=4", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	fresh := w.Result().Cookies()
	require.NotEmpty(t, fresh)
	m2, err := session.New(session.WithStore(st))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m2.Close() })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range fresh {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	m2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok, err := session.Value[int64](session.FromContext(r.Context()), "n")
		assert.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, int64(4), n, "the write after the restart reached Redis")
	})).ServeHTTP(rec, r)
}
