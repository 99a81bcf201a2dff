package session

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPopReadsAndRemoves(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, WithFlushMode(mode))
			c := h.newSession("notice", "saved")
			require.NoError(t, setOn(h, c, "other", 1))
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				v, ok, err := Pop[string](r.Context(), s, "notice")
				require.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, "saved", v)
				_, ok, err = Pop[string](r.Context(), s, "notice")
				require.NoError(t, err)
				assert.False(t, ok, "shown once")
			}, c)
			got, err := h.engineRecord(c)
			require.NoError(t, err)
			assert.NotContains(t, got.Fields, "notice")
			assert.Contains(t, got.Fields, "other", "other keys stay")
		})
	}
}

func TestPopAbsentWritesNothing(t *testing.T) {
	h := newHarness(t)
	before := h.store.updates.Load()
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Pop[string](r.Context(), s, "notice")
		require.NoError(t, err)
		assert.False(t, ok)
	})
	assert.Nil(t, sidCookie(rec.Result()), "no session created for a visitor without one")
	assert.Equal(t, before, h.store.updates.Load())

	_, _, err := Pop[string](context.Background(), nil, "notice")
	assert.ErrorIs(t, err, ErrNoSession)
}

func TestPopUndecodableStays(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("notice", "text")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Pop[int](r.Context(), s, "notice")
		assert.ErrorIs(t, err, ErrDecode)
		assert.False(t, ok)
	}, c)
	got, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Contains(t, got.Fields, "notice", "a value Pop cannot decode is not removed")
}

// A flash set once and popped by eight concurrent requests split over
// two managers sharing an engine reaches exactly one of them, round after
// round.
func TestPopOnceAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	c := a.newSession("seed", 0)
	for round := range 50 {
		require.NoError(t, setOn(a, c, "notice", round))
		var got atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			node := []*harness{a, b}[i%2]
			wg.Go(func() {
				node.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					v, ok, err := Pop[int](r.Context(), s, "notice")
					assert.NoError(t, err)
					if ok {
						assert.Equal(t, round, v)
						got.Add(1)
					}
				}, c)
			})
		}
		wg.Wait()
		require.Equal(t, int64(1), got.Load(), "round %d: the flash reached exactly one request", round)
	}
}

func TestPopRaw(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("notice", "text")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		b, ok, err := s.PopRaw(r.Context(), "notice")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, []byte{0xa4, 't', 'e', 'x', 't'}, b)
		_, ok, err = s.PopRaw(r.Context(), "notice")
		require.NoError(t, err)
		assert.False(t, ok)
	}, c)
	got, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.NotContains(t, got.Fields, "notice")
}
