package memstore

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestStore returns a Store closed when the test ends.
func newTestStore(t *testing.T, opts ...Option) *Store {
	s := New(opts...)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
}

// TestConformanceShared runs the suite with every subtest on one Store,
// as a shared backend would be.
func TestConformanceShared(t *testing.T) {
	s := newTestStore(t)
	storetest.Run(t, func(*testing.T) store.Store { return s })
	require.Positive(t, s.Len(), "the shared store should hold the suite's sessions")
}

func TestTwoNodes(t *testing.T) {
	s := newTestStore(t)
	storetest.TwoNodes(t, s, s)
}

func TestRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	rec := store.Record{Fields: map[string][]byte{"a": {1}}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}

	t.Run("EmptyKey", func(t *testing.T) {
		err := s.Create(ctx, "", rec)
		require.ErrorIs(t, err, errEmptyKey)
		require.EqualError(t, err, "memstore: create: empty key")
	})
	t.Run("ZeroExpiry", func(t *testing.T) {
		key := storetest.NewKey(t)
		bad := rec
		bad.Expires = time.Time{}
		require.ErrorIs(t, s.Create(ctx, key, bad), errNoExpiry)
		_, err := s.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("EmptyFieldKey", func(t *testing.T) {
		key := storetest.NewKey(t)
		bad := rec
		bad.Fields = map[string][]byte{"": {1}}
		require.ErrorIs(t, s.Create(ctx, key, bad), errEmptyFieldKey)

		require.NoError(t, s.Create(ctx, key, rec))
		err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"": {1}, "b": {2}}, Remove: []string{"a"}})
		require.ErrorIs(t, err, errEmptyFieldKey)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		require.Equal(t, rec.Fields, got.Fields, "a refused Update changes nothing")
	})
	t.Run("NilOption", func(t *testing.T) {
		s := New(nil, WithCleanupInterval(0))
		require.NoError(t, s.Close())
	})
}

func TestLen(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	require.Zero(t, s.Len())
	now := time.Now()
	for i := range 10 {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(-time.Second) // already expired
		}
		require.NoError(t, s.Create(ctx, fmt.Sprint(i), store.Record{Created: now, Expires: exp}))
	}
	require.Equal(t, 5, s.Len())
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(0))
	now := time.Now()
	for i := range 100 {
		exp := now.Add(time.Duration(i) * time.Minute)
		require.NoError(t, s.Create(ctx, fmt.Sprint(i), store.Record{Created: now, Expires: exp}))
	}
	require.Equal(t, 100, held(s))

	// At now+50m the sessions expiring at or before then are purged.
	require.Equal(t, 51, s.data.purge(now.Add(50*time.Minute)))
	require.Equal(t, 49, held(s))
	_, err := s.Load(ctx, "51")
	require.NoError(t, err)
}

func TestJanitorPurges(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(20*time.Millisecond))
	now := time.Now()
	require.NoError(t, s.Create(ctx, "short", store.Record{Created: now, Expires: now.Add(30 * time.Millisecond)}))
	require.NoError(t, s.Create(ctx, "long", store.Record{Created: now, Expires: now.Add(time.Hour)}))
	require.Eventually(t, func() bool { return held(s) == 1 }, 2*time.Second, 10*time.Millisecond)
	_, err := s.Load(ctx, "long")
	require.NoError(t, err)
}

func TestUpdateDropsExpired(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(0))
	now := time.Now()
	require.NoError(t, s.Create(ctx, "k", store.Record{Created: now, Expires: now.Add(-time.Millisecond)}))
	require.Equal(t, 1, held(s))
	require.ErrorIs(t, s.Update(ctx, "k", store.Change{Expires: now.Add(time.Hour)}), store.ErrNotFound)
	require.Zero(t, held(s))
}

func TestClose(t *testing.T) {
	s := New(WithCleanupInterval(time.Millisecond))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close")
	}
	// The data stays usable after Close.
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "k", store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}))
	_, err := s.Load(ctx, "k")
	require.NoError(t, err)
}

func TestForgottenStoreStopsJanitor(t *testing.T) {
	s := New(WithCleanupInterval(time.Hour))
	done := s.done
	s = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)
	_ = s
}

// held counts the entries in the map, expired or not.
func held(s *Store) int {
	n := 0
	for i := range s.data.parts {
		p := &s.data.parts[i]
		p.mu.RLock()
		n += len(p.m)
		p.mu.RUnlock()
	}
	return n
}
