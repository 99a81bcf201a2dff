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

func TestVersioner(t *testing.T) {
	storetest.RunVersioner(t, func(t *testing.T) store.Store { return newTestStore(t) })
}

func TestOwnerIndex(t *testing.T) {
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store { return newTestStore(t) })
}

// TestOwnerIndexShared runs the owner index checks with every subtest on
// one Store.
func TestOwnerIndexShared(t *testing.T) {
	s := newTestStore(t)
	storetest.RunOwnerIndex(t, func(*testing.T) store.Store { return s })
}

// TestIndexBounded: the entries of expired sessions leave the owner index
// when Owned meets them, without the janitor.
func TestIndexBounded(t *testing.T) {
	s := newTestStore(t, WithCleanupInterval(0))
	storetest.IndexBounded(t, s, s.data.owners.count)
}

// TestIndexBoundedByJanitor: the janitor alone empties the owner index of
// expired sessions, also for owners nobody asks about.
func TestIndexBoundedByJanitor(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(20*time.Millisecond))
	now := time.Now()
	for i := range 10 {
		rec := store.Record{Created: now, Expires: now.Add(30 * time.Millisecond), Owner: "u"}
		require.NoError(t, s.Create(ctx, fmt.Sprint(i), rec))
	}
	require.Equal(t, 10, s.data.owners.count("u"))
	require.Eventually(t, func() bool { return s.data.owners.count("u") == 0 }, 3*time.Second, 10*time.Millisecond)
	require.Zero(t, held(s))
	s.data.owners.mu.Lock()
	defer s.data.owners.mu.Unlock()
	require.Empty(t, s.data.owners.m, "no owner is left with an empty set")
}

// TestOwnerIndexConsistent: after a mix of creates, moves, clears,
// deletes and expiry, every index entry names a session of that owner and
// every owned session has its entry.
func TestOwnerIndexConsistent(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, WithCleanupInterval(0))
	now := time.Now()
	owners := []string{"", "a", "b", "c"}
	for i := range 200 {
		key := fmt.Sprint(i)
		exp := now.Add(time.Hour)
		if i%7 == 0 {
			exp = now.Add(-time.Second)
		}
		require.NoError(t, s.Create(ctx, key, store.Record{Created: now, Expires: exp, Owner: owners[i%4]}))
		switch i % 5 {
		case 0:
			require.NoError(t, s.Delete(ctx, key))
		case 1, 2:
			_, err := s.Update(ctx, key, store.Change{Owner: &owners[(i+1)%4]})
			if i%7 == 0 {
				require.ErrorIs(t, err, store.ErrNotFound)
			} else {
				require.NoError(t, err)
			}
		}
	}
	s.data.purge(time.Now())

	entries := 0
	s.data.owners.mu.Lock()
	for owner, set := range s.data.owners.m {
		require.NotEmpty(t, owner)
		require.NotEmpty(t, set)
		for key := range set {
			p := s.data.shard(key)
			p.mu.RLock()
			e, ok := p.m[key]
			p.mu.RUnlock()
			require.True(t, ok, "index entry without a session")
			require.Equal(t, owner, e.owner, "index entry under the wrong owner")
			entries++
		}
	}
	s.data.owners.mu.Unlock()
	owned := 0
	for i := range s.data.parts {
		for _, e := range s.data.parts[i].m {
			if e.owner != "" {
				owned++
			}
		}
	}
	require.Positive(t, owned)
	require.Equal(t, owned, entries, "every owned session has exactly one index entry")
}

func TestRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	rec := store.Record{Fields: map[string][]byte{"a": {1}}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}

	t.Run("EmptyKey", func(t *testing.T) {
		err := s.Create(ctx, "", rec)
		require.ErrorIs(t, err, errEmptyKey)
		require.ErrorIs(t, err, store.ErrInvalid)
		require.EqualError(t, err, "memstore: create: invalid store request: empty key")
		_, err = s.Update(ctx, "", store.Change{})
		require.ErrorIs(t, err, store.ErrInvalid)
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
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"": {1}, "b": {2}}, Remove: []string{"a"}})
		require.ErrorIs(t, err, errEmptyFieldKey)
		require.ErrorIs(t, err, store.ErrInvalid)
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
	_, err := s.Update(ctx, "k", store.Change{Expires: now.Add(time.Hour)})
	require.ErrorIs(t, err, store.ErrNotFound)
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
