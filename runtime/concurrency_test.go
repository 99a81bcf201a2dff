package session

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

const writers = 100

// setConcurrently runs writers requests at once on the session of cookie,
// each setting its own key, and checks every write survived in the cache
// and in the engine.
func setConcurrently(t *testing.T, h *harness, cookie *http.Cookie) {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				errs <- s.Set(r.Context(), fmt.Sprintf("k%02d", i), i)
			}, cookie)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Len(t, s.Keys(), writers+1, "the cache has every write")
		for i := range writers {
			v, ok, err := Value[int](s, fmt.Sprintf("k%02d", i))
			require.NoError(t, err)
			require.True(t, ok, "key %d", i)
			assert.Equal(t, i, v)
		}
	}, cookie)

	rec, err := h.engineRecord(cookie)
	require.NoError(t, err)
	assert.Len(t, rec.Fields, writers+1, "the engine has every write")
}

func TestConcurrentWritersMemstore(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession("init", true)
	setConcurrently(t, h, cookie)
	assert.Equal(t, int64(writers), h.store.updates.Load(), "one engine write per Set")
}

func TestConcurrentWritersOnResponse(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	cookie := h.newSession("init", true)
	setConcurrently(t, h, cookie)
}

func TestConcurrentColdLoadsAreDeduplicated(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession("init", 1)
	// A second manager on the same engine starts with an empty cache.
	h2 := newHarnessOn(t, h.store.Store)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				v, ok, err := Value[int](s, "init")
				assert.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, 1, v)
			}, cookie)
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, h2.store.loads.Load(), int64(5), "concurrent misses share loads")
}

func TestConcurrentReadersAndWritersInOneRequest(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession("init", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				assert.NoError(t, s.Set(context.Background(), fmt.Sprintf("g%d", i), i))
				_, _, err := Value[int](s, "init")
				assert.NoError(t, err)
				_ = s.Keys()
				_ = s.Size()
			})
		}
		wg.Wait()
		assert.Len(t, s.Keys(), 21)
	}, cookie)
	rec, err := h.store.Store.Load(context.Background(), store.Key(cookie.Value))
	require.NoError(t, err)
	assert.Len(t, rec.Fields, 21)
}
