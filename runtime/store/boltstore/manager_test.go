package boltstore_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/sessiontest"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
)

// TestManagerConcurrentWriters: 100 requests at once on one session, each
// setting a key of its own, all survive in the file: a new Open and a new
// manager, as after a restart, read every one of them.
func TestManagerConcurrentWriters(t *testing.T) {
	const writers = 100
	path := filepath.Join(t.TempDir(), "sessions.db")
	bs, err := boltstore.Open(path)
	require.NoError(t, err)
	h := sessiontest.New(t, session.WithStore(bs))
	h.Seed(map[string]any{"init": true})
	cookie := h.Cookie("sid")
	require.NotNil(t, cookie)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			handler := h.Manager.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				errs <- session.FromContext(r.Context()).Set(r.Context(), fmt.Sprintf("k%02d", i), i)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(cookie)
			handler.ServeHTTP(httptest.NewRecorder(), req)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, h.Manager.Close())
	require.NoError(t, bs.Close())

	again, err := boltstore.Open(path)
	require.NoError(t, err)
	defer again.Close()
	m2, err := session.New(session.WithStore(again))
	require.NoError(t, err)
	defer m2.Close()
	read := m2.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.Equal(t, cookie.Value, s.ID(), "the session survived the restart")
		assert.Len(t, s.Keys(), writers+1)
		for i := range writers {
			v, ok, err := session.Value[int](s, fmt.Sprintf("k%02d", i))
			require.NoError(t, err)
			require.True(t, ok, "key %d", i)
			assert.Equal(t, i, v)
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	read.ServeHTTP(httptest.NewRecorder(), req)
}

// TestManagerFileHoldsNoID: the file holds the hash of a session's ID,
// never the ID.
func TestManagerFileHoldsNoID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	bs, err := boltstore.Open(path)
	require.NoError(t, err)
	h := sessiontest.New(t, session.WithStore(bs))
	h.Seed(map[string]any{"k": "v", "k2": "v2"})
	id := h.ID()
	require.NotEmpty(t, id)
	require.NoError(t, h.Manager.Close())
	require.NoError(t, bs.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte(id)), "the bolt file holds no session ID")
	assert.True(t, bytes.Contains(raw, []byte(store.Key(id))), "it holds the hash")
}
