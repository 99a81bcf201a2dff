package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sizes of the concurrency checks.
const (
	fieldWriters = 100 // goroutines writing one field each
	raceRounds   = 5   // rounds of the delete-versus-update race
	raceWriters  = 8   // updating goroutines per round
	raceUpdates  = 40  // most updates per goroutine per round
	creators     = 20  // goroutines racing to Create one key
)

// testConcurrentFieldWriters: 100 goroutines each writing a different
// field of one session (half of them also removing a field) all survive.
func testConcurrentFieldWriters(t *testing.T, s store.Store) {
	concurrentFieldWriters(t, s, []store.Store{s})
}

// testConcurrentCreate: of many simultaneous Creates of one key exactly
// one succeeds and the others report ErrExists.
func testConcurrentCreate(t *testing.T, s store.Store) {
	key := NewKey(t)
	errs := make([]error, creators)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range creators {
		wg.Go(func() {
			<-start
			errs[i] = s.Create(context.Background(), key, newRecord(fields("creator", fmt.Sprint(i))))
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equalf(t, -1, winner, "Creates %d and %d both succeeded", winner, i)
			winner = i
			continue
		}
		require.ErrorIsf(t, err, store.ErrExists, "Create %d", i)
	}
	require.NotEqual(t, -1, winner, "no Create succeeded")
	got := mustLoad(t, s, key)
	requireFields(t, fields("creator", fmt.Sprint(winner)), got.Fields)
	require.Equal(t, uint64(1), got.Version, "Version")
}

// testDeleteUpdateRace: goroutines keep updating a session while another
// deletes it. Every Update returns nil or ErrNotFound, none that starts
// after Delete returned succeeds, and the session stays deleted.
func testDeleteUpdateRace(t *testing.T, s store.Store) {
	deleteUpdateRace(t, s, []store.Store{s}, s)
}

// concurrentFieldWriters creates a session through s, then writes one
// field per goroutine, spreading the goroutines over nodes, and checks
// every node sees every write, that every Update got its own version and
// that the final version counts them all.
func concurrentFieldWriters(t *testing.T, s store.Store, nodes []store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	base := fields("base", "kept")
	for i := range fieldWriters / 2 {
		base[fieldKey("old", i)] = []byte("to remove")
	}
	rec := newRecord(base)
	mustCreate(t, s, key, rec)

	want := fields("base", "kept")
	versions := make([]uint64, fieldWriters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range fieldWriters {
		k, v := fieldKey("w", i), []byte(fmt.Sprintf("value %d", i))
		want[k] = v
		c := store.Change{Set: map[string][]byte{k: v}}
		if i < fieldWriters/2 {
			c.Remove = []string{fieldKey("old", i)}
		}
		node := nodes[i%len(nodes)]
		wg.Go(func() {
			<-start
			v, err := node.Update(ctx, key, c)
			assert.NoErrorf(t, err, "Update %d", i)
			versions[i] = v
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}

	requireVersions(t, 2, versions)
	for i, node := range nodes {
		got := mustLoad(t, node, key)
		requireFields(t, want, got.Fields)
		requireTime(t, rec.Expires, got.Expires, fmt.Sprintf("Expires on node %d", i))
		require.Equalf(t, uint64(1+fieldWriters), got.Version, "Version on node %d", i)
	}
}

// deleteUpdateRace runs the delete-versus-update race: the session is
// created through s, updated through updaters (spread over the
// goroutines) and deleted through deleter.
func deleteUpdateRace(t *testing.T, s store.Store, updaters []store.Store, deleter store.Store) {
	for round := range raceRounds {
		t.Run(fmt.Sprintf("Round%d", round), func(t *testing.T) {
			raceRound(t, s, updaters, deleter, int64(round*raceWriters/2))
		})
	}
}

// raceRound is one round of deleteUpdateRace; the delete goes out once
// deleteAfter updates have succeeded. The successful Updates must have
// got the versions 2, 3, ... one each.
func raceRound(t *testing.T, s store.Store, updaters []store.Store, deleter store.Store, deleteAfter int64) {
	ctx := context.Background()
	key := NewKey(t)
	mustCreate(t, s, key, newRecord(fields("a", "1")))

	var (
		succeeded atomic.Int64
		deleted   atomic.Bool
		reached   = make(chan struct{})
		once      sync.Once
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		versions  []uint64
	)
	if deleteAfter == 0 {
		close(reached)
	}
	for g := range raceWriters {
		node := updaters[g%len(updaters)]
		wg.Go(func() {
			<-start
			notFound := 0
			for i := range raceUpdates {
				after := deleted.Load()
				v, err := node.Update(ctx, key, raceChange(g, i))
				if !assertNilOrNotFound(t, err, fmt.Sprintf("Update %d/%d", g, i)) {
					return
				}
				if errors.Is(err, store.ErrNotFound) {
					// Keep pushing a little after the delete.
					if notFound++; notFound == 3 {
						return
					}
					continue
				}
				assert.Falsef(t, after, "Update %d/%d began after Delete returned and succeeded", g, i)
				mu.Lock()
				versions = append(versions, v)
				mu.Unlock()
				if succeeded.Add(1) == deleteAfter {
					once.Do(func() { close(reached) })
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	close(start)
	select {
	case <-reached:
	case <-done:
	}
	require.NoError(t, deleter.Delete(ctx, key), "Delete")
	deleted.Store(true)
	<-done

	requireVersions(t, 2, versions)
	requireNotFound(t, s, key)
	require.ErrorIs(t, updateErr(ctx, s, key, store.Change{Set: fields("late", "1")}), store.ErrNotFound)
	for _, node := range updaters {
		requireNotFound(t, node, key)
	}
	requireNotFound(t, deleter, key)
}

// raceChange returns update i of goroutine g in the race, cycling through
// set, set-and-remove and touch.
func raceChange(g, i int) store.Change {
	k := fmt.Sprintf("g%d-%d", g, i)
	switch i % 3 {
	case 0:
		return store.Change{Set: fields(k, "v")}
	case 1:
		return store.Change{Set: fields(k, "v"), Remove: []string{fmt.Sprintf("g%d-%d", g, i-1)}}
	default:
		return store.Change{Expires: msTime(time.Hour + time.Duration(i)*time.Millisecond)}
	}
}
