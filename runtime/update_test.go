package session

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// twoNodes returns two harnesses (managers) sharing one memory engine,
// without a bus: each keeps its own cache.
func twoNodes(t *testing.T, opts ...Option) (*harness, *harness) {
	t.Helper()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	return newHarnessOn(t, mem, opts...), newHarnessOn(t, mem, opts...)
}

// incr is an Update function adding one.
func incr(n int, _ bool) (int, error) { return n + 1, nil }

func TestUpdateCreatesAndIncrements(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			var c *http.Cookie
			rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				n, err := Update(r.Context(), s, "n", func(n int, ok bool) (int, error) {
					assert.False(t, ok, "absent at first")
					return n + 1, nil
				})
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				// Staged changes go with the next Update under OnResponse.
				require.NoError(t, s.Set(r.Context(), "other", "x"))
				n, err = Update(r.Context(), s, "n", incr)
				require.NoError(t, err)
				assert.Equal(t, 2, n)
			})
			c = sidCookie(rec.Result())
			require.NotNil(t, c)
			got, err := h.engineRecord(c)
			require.NoError(t, err)
			assert.Equal(t, []byte{0x02}, got.Fields["n"])
			assert.Contains(t, got.Fields, "other", "the pending Set went with the Update")
		})
	}
}

func TestUpdateFunctionErrorChangesNothing(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("n", 5)
	boom := errors.New("boom")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) { return 0, boom })
		require.ErrorIs(t, err, boom)
		_, err = Update(r.Context(), s, "n", func(n string, _ bool) (string, error) { return "never", nil })
		require.ErrorIs(t, err, ErrDecode, "an int read as a string")
	}, c)
	got, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x05}, got.Fields["n"])
	assert.Equal(t, uint64(1), got.Version, "nothing written")
}

func TestUpdateGivesUpWithErrConflict(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("n", 1)
	h.store.failOn("update", fmt.Errorf("injected: %w", store.ErrConflict))
	calls := 0
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) { calls++; return n + 1, nil })
		require.ErrorIs(t, err, ErrConflict)
	}, c)
	assert.Equal(t, MaxUpdateTries, calls, "fn is called once per try")
	h.store.failOn("update", nil)
	got, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x01}, got.Fields["n"])
}

// Another key changing meanwhile (on another node) causes no retry.
func TestUpdateIgnoresOtherKeys(t *testing.T) {
	a, b := twoNodes(t)
	c := a.newSession("n", 1)
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { _ = s.Keys() }, c) // warm on a
	require.NoError(t, setOn(b, c, "other", "changed"))
	before := a.store.updates.Load()
	calls := 0
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) { calls++; return n + 1, nil })
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}, c)
	assert.Equal(t, 1, calls)
	assert.Equal(t, before+1, a.store.updates.Load(), "one engine write")
	got, err := a.engineRecord(c)
	require.NoError(t, err)
	assert.Contains(t, got.Fields, "other")
}

// setOn sets key=v in the session of c through harness h.
func setOn(h *harness, c *http.Cookie, key string, v any) error {
	var err error
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) { err = s.Set(r.Context(), key, v) }, c)
	return err
}

// 200 concurrent increments of one key, split over two managers sharing
// an engine, in both flush modes, end at exactly 200.
func TestUpdateConcurrentIncrementsTwoNodes(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			a, b := twoNodes(t, WithFlushMode(mode))
			c := a.newSession("n", 0)
			const total = 200
			var wg sync.WaitGroup
			for i := range total {
				node := []*harness{a, b}[i%2]
				wg.Go(func() {
					node.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
						_, err := Update(r.Context(), s, "n", incr)
						assert.NoError(t, err)
					}, c)
				})
			}
			wg.Wait()
			got, err := a.engineRecord(c)
			require.NoError(t, err)
			n, err := decodeInt(got.Fields["n"])
			require.NoError(t, err)
			assert.Equal(t, total, n, "increments lost")
		})
	}
}

// decodeInt decodes an int as Value does.
func decodeInt(b []byte) (int, error) {
	var n int
	err := decodeInto(&n, b)
	return n, err
}

// The size limit holds across managers: two nodes adding distinct keys
// at once never take the stored session past it, and a refused write
// changes nothing.
func TestSizeLimitAcrossNodes(t *testing.T) {
	const limit = 512
	a, b := twoNodes(t, WithMaxSize(limit))
	c := a.newSession("seed", 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[string]bool{}
	for g := range 8 {
		node := []*harness{a, b}[g%2]
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("g%d-%d", g, i)
				err := setOn(node, c, k, "0123456789abcdef")
				if err != nil {
					assert.ErrorIs(t, err, ErrTooLarge)
					return
				}
				mu.Lock()
				accepted[k] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := a.engineRecord(c)
	require.NoError(t, err)
	assert.LessOrEqual(t, store.Size(got.Fields), limit)
	for k := range got.Fields {
		assert.True(t, k == "seed" || accepted[k], "a refused write %s was stored", k)
	}
	assert.Len(t, got.Fields, len(accepted)+1)
}

// The size error says how large the session would be and the limit.
func TestTooLargeSaysBySize(t *testing.T) {
	h := newHarness(t, WithMaxSize(16))
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		err := s.Set(r.Context(), "k", "0123456789abcdefghij")
		require.ErrorIs(t, err, ErrTooLarge)
		assert.Contains(t, err.Error(), "it would be 22 bytes, the limit is 16")
	})
}

// UpdateRawRenamed starts from the old key when the new one is absent,
// moves the value in the same change, and retries when another node
// writes the old key meanwhile (a build that still uses it): no write of
// either key is lost.
func TestUpdateRawRenamed(t *testing.T) {
	a, b := twoNodes(t)
	c := a.newSession("old", 5)
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { _ = s.Keys() }, c) // warm on a
	require.NoError(t, setOn(b, c, "old", 7))                                          // a's copy is now stale
	calls := 0
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		nb, err := s.UpdateRawRenamed(r.Context(), "new", []string{"gone", "old"}, func(old []byte, ok bool) ([]byte, error) {
			calls++
			require.True(t, ok, "the old key's value")
			n, err := decodeInt(old)
			require.NoError(t, err)
			return encode(n + 1)
		})
		require.NoError(t, err)
		n, err := decodeInt(nb)
		require.NoError(t, err)
		assert.Equal(t, 8, n, "from the value b wrote, not a's stale copy")
	}, c)
	assert.Equal(t, 2, calls, "one conflict, then the fresh value")
	got, err := a.engineRecord(c)
	require.NoError(t, err)
	assert.NotContains(t, got.Fields, "old", "removed in the change that set the new key")
	n, err := decodeInt(got.Fields["new"])
	require.NoError(t, err)
	assert.Equal(t, 8, n)

	// With the new key present, the old one is not read (and a value left
	// under it by an old build is removed).
	require.NoError(t, setOn(b, c, "old", 100))
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := s.UpdateRawRenamed(r.Context(), "new", []string{"old"}, func(old []byte, ok bool) ([]byte, error) {
			n, err := decodeInt(old)
			require.NoError(t, err)
			assert.Equal(t, 8, n)
			return encode(n + 1)
		})
		require.NoError(t, err)
	}, c)
	got, err = a.engineRecord(c)
	require.NoError(t, err)
	assert.NotContains(t, got.Fields, "old")

	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := s.UpdateRawRenamed(r.Context(), "new", []string{"new"}, func([]byte, bool) ([]byte, error) { return nil, nil })
		assert.ErrorIs(t, err, ErrInvalidKey, "a key renamed from itself")
	}, c)
}
