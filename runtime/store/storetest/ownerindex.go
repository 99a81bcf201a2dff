package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sizes of the owner index checks.
const (
	manySessions    = 50 // sessions of one owner in ManySessions
	ownerUpdaters   = 30 // goroutines giving a session to one owner
	boundedSessions = 20 // short-lived sessions in IndexBounded
)

// RunOwnerIndex checks an engine's [store.OwnerIndex] as subtests of t:
// Owned lists exactly the live sessions of an owner with their key, times
// and version; Create, Update (Change.Owner) and Delete move sessions in
// and out of the list; expired sessions are never listed; owners are
// arbitrary text; many sessions and concurrent owner changes all show.
// newStore is called as in [Run] and must return a Store that implements
// store.OwnerIndex; it may return handles on one shared backend (every
// check uses fresh random owners).
//
// The expiry checks are set up first and checked last, so their one wait
// (a few hundred milliseconds) overlaps the other checks.
func RunOwnerIndex(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	require.NotNil(t, newStore, "storetest: newStore is nil")
	es := newStore(t)
	requireOwnerIndex(t, es)
	check := setupOwnerExpiry(t, es)
	for _, c := range ownerIndexCases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			requireOwnerIndex(t, s)
			c.run(t, s)
		})
	}
	t.Run("Expiry", check)
}

// ownerIndexCases lists the checks RunOwnerIndex runs on a fresh store
// each.
var ownerIndexCases = []testCase{
	{"Listed", testOwnedListed},
	{"UnknownOwner", testOwnedUnknown},
	{"TracksUpdates", testOwnedTracksUpdates},
	{"SetOnUpdate", testOwnedSetOnUpdate},
	{"Move", testOwnedMove},
	{"ListedWhileRenewed", testOwnedWhileMoved},
	{"Clear", testOwnedClear},
	{"Delete", testOwnedDelete},
	{"CreateAfterDelete", testOwnedCreateAfterDelete},
	{"FailedWritesLeaveIndex", testOwnedFailedWrites},
	{"AwkwardOwners", testOwnedAwkward},
	{"ManySessions", testOwnedMany},
	{"ConcurrentOwnerUpdates", testOwnedConcurrent},
	{"CanceledContext", testOwnedCanceled},
}

// testOwnedListed: Owned lists the sessions of one owner, not those of
// another owner nor those without one, with their key, times and version.
func testOwnedListed(t *testing.T, s store.Store) {
	a, b := newOwner(t, "a"), newOwner(t, "b")
	want := map[string]store.Record{}
	for i := range 3 {
		key, rec := createOwned(t, s, a, time.Duration(i+1)*time.Hour)
		want[key] = rec
	}
	bKey, bRec := createOwned(t, s, b, time.Hour)
	createOwned(t, s, "", time.Hour)

	requireOwned(t, s, a, want)
	requireOwned(t, s, b, map[string]store.Record{bKey: bRec})
}

// testOwnedUnknown: an owner with no sessions lists none, without error.
// The empty owner (no owner) lists none either, although sessions without
// an owner exist: an engine may instead refuse it with ErrInvalid, but it
// must never list (or scan) the sessions that have no owner.
func testOwnedUnknown(t *testing.T, s store.Store) {
	idx := s.(store.OwnerIndex)
	owned, err := idx.Owned(t.Context(), newOwner(t, "nobody"))
	require.NoError(t, err)
	require.Empty(t, owned)

	createOwned(t, s, "", time.Hour)
	owned, err = idx.Owned(t.Context(), "")
	if err != nil {
		require.ErrorIs(t, err, store.ErrInvalid, `Owned("")`)
	}
	require.Empty(t, owned, `Owned("") lists sessions without an owner`)
}

// testOwnedTracksUpdates: Owned reports the version and expiry after
// Updates that leave the owner alone, and setting the same owner again
// lists the session once.
func testOwnedTracksUpdates(t *testing.T, s store.Store) {
	a := newOwner(t, "a")
	key, rec := createOwned(t, s, a, time.Hour)
	requireUpdate(t, s, key, store.Change{Set: fields("x", "1")}, 2)
	rec.Version = 2
	requireOwned(t, s, a, map[string]store.Record{key: rec})

	rec.Expires = msTime(3 * time.Hour)
	requireUpdate(t, s, key, store.Change{Expires: rec.Expires}, 3)
	rec.Version = 3
	requireOwned(t, s, a, map[string]store.Record{key: rec})

	requireUpdate(t, s, key, store.Change{Owner: ptr(a)}, 4)
	rec.Version = 4
	requireOwned(t, s, a, map[string]store.Record{key: rec})
}

// testOwnedSetOnUpdate: a session created without an owner is listed once
// an Update gives it one.
func testOwnedSetOnUpdate(t *testing.T, s store.Store) {
	a := newOwner(t, "a")
	key, rec := createOwned(t, s, "", time.Hour)
	requireOwned(t, s, a, nil)
	requireUpdate(t, s, key, store.Change{Set: fields("uid", "a"), Owner: ptr(a)}, 2)
	rec.Version = 2
	requireOwned(t, s, a, map[string]store.Record{key: rec})
}

// testOwnedMove: changing the owner moves the session from one list to
// the other, and back.
func testOwnedMove(t *testing.T, s store.Store) {
	a, b := newOwner(t, "a"), newOwner(t, "b")
	key, rec := createOwned(t, s, a, time.Hour)
	stay, stayRec := createOwned(t, s, a, time.Hour)

	requireUpdate(t, s, key, store.Change{Owner: ptr(b)}, 2)
	rec.Version = 2
	requireOwned(t, s, a, map[string]store.Record{stay: stayRec})
	requireOwned(t, s, b, map[string]store.Record{key: rec})

	requireUpdate(t, s, key, store.Change{Set: fields("back", "1"), Owner: ptr(a)}, 3)
	rec.Version = 3
	requireOwned(t, s, a, map[string]store.Record{stay: stayRec, key: rec})
	requireOwned(t, s, b, nil)
}

// testOwnedWhileMoved: a session renewed again and again (Move) is in
// every listing of its owner taken meanwhile, under its old key or its
// new one: a revocation that lists the owner's sessions must never miss
// one that a renewal is moving.
func testOwnedWhileMoved(t *testing.T, s store.Store) {
	listings, missed := listWhileMoved(t, s)
	require.Zero(t, missed, "listings of %d that held none of the renewed session's keys", listings)
}

// listWhileMoved renews a session 40 times in a row while listing its
// owner, and returns how many listings it took and how many of them held
// none of the session's keys.
func listWhileMoved(t *testing.T, s store.Store) (listings, missed int) {
	const moves = 40
	ctx := t.Context()
	a := newOwner(t, "a")
	key, rec := createOwned(t, s, a, time.Hour)
	keys := map[string]bool{key: true}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range moves {
			to := NewKey(t)
			mu.Lock()
			keys[to] = true
			mu.Unlock()
			if _, err := s.Move(ctx, key, to, store.Change{Expires: rec.Expires}); err != nil {
				t.Errorf("Move: %v", err)
				return
			}
			key = to
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		owned, err := s.(store.OwnerIndex).Owned(ctx, a)
		require.NoError(t, err, "Owned")
		listings++
		mu.Lock()
		found := false
		for _, o := range owned {
			found = found || keys[o.Key]
		}
		mu.Unlock()
		if !found {
			missed++
		}
	}
	return listings, missed
}

// testOwnedClear: clearing the owner takes the session off the list; it
// stays live without an owner.
func testOwnedClear(t *testing.T, s store.Store) {
	a := newOwner(t, "a")
	key, _ := createOwned(t, s, a, time.Hour)
	requireUpdate(t, s, key, store.Change{Owner: ptr("")}, 2)
	requireOwned(t, s, a, nil)
	got := mustLoad(t, s, key)
	require.Empty(t, got.Owner)
	require.Equal(t, uint64(2), got.Version)
}

// testOwnedDelete: a deleted session is no longer listed.
func testOwnedDelete(t *testing.T, s store.Store) {
	a := newOwner(t, "a")
	key, _ := createOwned(t, s, a, time.Hour)
	stay, stayRec := createOwned(t, s, a, time.Hour)
	require.NoError(t, s.Delete(t.Context(), key))
	requireOwned(t, s, a, map[string]store.Record{stay: stayRec})
	require.NoError(t, s.Delete(t.Context(), stay))
	requireOwned(t, s, a, nil)
}

// testOwnedCreateAfterDelete: a key deleted and created again for
// another owner is listed only under the new owner, at version 1; created
// again for the same owner, it is listed once.
func testOwnedCreateAfterDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newOwner(t, "a"), newOwner(t, "b")
	key, _ := createOwned(t, s, a, time.Hour)
	requireUpdate(t, s, key, store.Change{Set: fields("x", "1")}, 2)
	require.NoError(t, s.Delete(ctx, key))

	rec := ownedRecord(b, 2*time.Hour)
	mustCreate(t, s, key, rec)
	requireOwned(t, s, a, nil)
	requireOwned(t, s, b, map[string]store.Record{key: rec})

	require.NoError(t, s.Delete(ctx, key))
	mustCreate(t, s, key, rec)
	requireOwned(t, s, b, map[string]store.Record{key: rec})
}

// testOwnedFailedWrites: a Create refused with ErrExists and an Update of
// a missing session leave the index as it was.
func testOwnedFailedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newOwner(t, "a"), newOwner(t, "b")
	key, rec := createOwned(t, s, a, time.Hour)
	require.ErrorIs(t, s.Create(ctx, key, ownedRecord(b, time.Hour)), store.ErrExists)
	_, err := s.Update(ctx, NewKey(t), store.Change{Owner: ptr(b)})
	require.ErrorIs(t, err, store.ErrNotFound)
	requireOwned(t, s, a, map[string]store.Record{key: rec})
	requireOwned(t, s, b, nil)
}

// testOwnedAwkward: owners are arbitrary text; owners that differ only in
// case, accents, trailing space or a suffix are different owners.
func testOwnedAwkward(t *testing.T, s store.Store) {
	owners := awkwardOwners(newOwner(t, ""))
	want := make(map[string]map[string]store.Record, len(owners))
	for i, owner := range owners {
		want[owner] = map[string]store.Record{}
		// One session each, two for every third owner.
		for range 1 + i%3/2 {
			key, rec := createOwned(t, s, owner, time.Hour)
			want[owner][key] = rec
		}
	}
	for _, owner := range owners {
		requireOwned(t, s, owner, want[owner])
	}
	// Moving between two awkward owners works too.
	from, to := owners[0], owners[1]
	for key, rec := range want[from] {
		requireUpdate(t, s, key, store.Change{Owner: ptr(to)}, 2)
		rec.Version = 2
		want[to][key] = rec
		delete(want[from], key)
		break
	}
	requireOwned(t, s, from, want[from])
	requireOwned(t, s, to, want[to])
}

// testOwnedMany: an owner with many sessions gets all of them listed.
func testOwnedMany(t *testing.T, s store.Store) {
	a := newOwner(t, "many")
	want := make(map[string]store.Record, manySessions)
	for i := range manySessions {
		key, rec := createOwned(t, s, a, time.Hour+time.Duration(i)*time.Second)
		want[key] = rec
	}
	requireOwned(t, s, a, want)
}

// testOwnedConcurrent: sessions given to one owner by concurrent Updates
// and Creates (and some moved in from another owner) are all listed; none
// is lost to a race on the index.
func testOwnedConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newOwner(t, "a"), newOwner(t, "b")
	keys := make([]string, ownerUpdaters)
	recs := make([]store.Record, ownerUpdaters)
	for i := range ownerUpdaters {
		if i%3 == 2 {
			keys[i] = NewKey(t) // created concurrently below
			continue
		}
		owner := ""
		if i%3 == 1 {
			owner = b
		}
		keys[i], recs[i] = createOwned(t, s, owner, time.Hour)
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ownerUpdaters {
		wg.Go(func() {
			<-start
			if i%3 == 2 {
				recs[i] = ownedRecord(a, time.Hour)
				assert.NoErrorf(t, s.Create(ctx, keys[i], recs[i]), "Create %d", i)
				return
			}
			v, err := s.Update(ctx, keys[i], store.Change{Set: fields("n", fmt.Sprint(i)), Owner: ptr(a)})
			assert.NoErrorf(t, err, "Update %d", i)
			assert.Equalf(t, uint64(2), v, "version returned by Update %d", i)
			recs[i].Version = 2
		})
	}
	close(start)
	wg.Wait()
	require.False(t, t.Failed())

	want := make(map[string]store.Record, ownerUpdaters)
	for i, key := range keys {
		want[key] = recs[i]
	}
	requireOwned(t, s, a, want)
	requireOwned(t, s, b, nil)
}

// testOwnedCanceled: Owned with a canceled context returns an error
// wrapping context.Canceled.
func testOwnedCanceled(t *testing.T, s store.Store) {
	a := newOwner(t, "a")
	key, rec := createOwned(t, s, a, time.Hour)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.(store.OwnerIndex).Owned(canceled, a)
	require.ErrorIs(t, err, context.Canceled)
	requireOwned(t, s, a, map[string]store.Record{key: rec})
}

// setupOwnerExpiry creates the short-lived sessions of the expiry checks
// on s and returns the check, which waits until they have expired.
func setupOwnerExpiry(t *testing.T, s store.Store) func(t *testing.T) {
	a, b, c := newOwner(t, "exp-a"), newOwner(t, "exp-b"), newOwner(t, "exp-c")
	var latest time.Time
	short := func() time.Time {
		e := msTime(shortTTL)
		if e.After(latest) {
			latest = e
		}
		return e
	}
	create := func(owner string, expires time.Time) (string, store.Record) {
		key := NewKey(t)
		rec := ownedRecord(owner, time.Hour)
		rec.Expires = expires
		mustCreate(t, s, key, rec)
		return key, rec
	}

	// Owner a: two sessions expire, one lives on.
	create(a, short())
	create(a, short())
	liveKey, liveRec := create(a, msTime(time.Hour))
	// A long session cut short by a touch expires too.
	shortenKey, _ := create(a, msTime(time.Hour))
	requireUpdate(t, s, shortenKey, store.Change{Expires: short()}, 2)
	// A short session extended by a touch lives on.
	extendKey, extendRec := create(a, short())
	extendRec.Expires = msTime(2 * time.Hour)
	extendRec.Version = 2
	requireUpdate(t, s, extendKey, store.Change{Expires: extendRec.Expires}, 2)
	// Sessions that expire and are then created again: for the same
	// owner and for another one.
	sameKey, _ := create(a, short())
	requireUpdate(t, s, sameKey, store.Change{Set: fields("x", "1")}, 2)
	otherKey, _ := create(a, short())
	// A session moved to b before it expires is listed by neither.
	movedKey, _ := create(a, short())
	requireUpdate(t, s, movedKey, store.Change{Owner: ptr(b)}, 2)

	return func(t *testing.T) {
		time.Sleep(time.Until(latest) + expiryMargin)
		requireOwned(t, s, a, map[string]store.Record{liveKey: liveRec, extendKey: extendRec})
		requireOwned(t, s, b, nil)

		sameRec := ownedRecord(a, time.Hour)
		mustCreate(t, s, sameKey, sameRec)
		otherRec := ownedRecord(c, time.Hour)
		mustCreate(t, s, otherKey, otherRec)
		requireOwned(t, s, a, map[string]store.Record{liveKey: liveRec, extendKey: extendRec, sameKey: sameRec})
		requireOwned(t, s, c, map[string]store.Record{otherKey: otherRec})
	}
}

// IndexBounded shows that an engine's owner index cannot grow without
// bound. It gives an owner sessions (some then deleted, some moved to a
// second owner, some written to), checks that Owned lists the live ones
// and that count sees at least as many entries, cuts every remaining
// session short with a touch and adds a few created short-lived, waits
// until all have expired, lets the engine clean up, and requires count to
// report no entry left for either owner.
//
// count is the engine's own view of its index: the number of raw index
// entries stored for owner, stale ones included (members of a Redis set,
// rows in an index table, items...). The cleanup is what the engine does
// anyway: when s has a DeleteExpired(ctx) method (returning an error, or
// a count and an error) it is called, then Owned for both owners. s must
// implement store.OwnerIndex.
func IndexBounded(t *testing.T, s store.Store, count func(owner string) int) {
	t.Helper()
	require.NotNil(t, count, "storetest: count is nil")
	idx := requireOwnerIndex(t, s)
	ctx := t.Context()
	owner, other := newOwner(t, "bounded"), newOwner(t, "bounded-other")

	// Long-lived sessions first, so the checks below do not race expiry
	// however slow the engine is.
	var remaining []string
	live, moved := 0, 0
	for i := range boundedSessions {
		key, _ := createOwned(t, s, owner, time.Hour)
		switch i % 4 {
		case 0: // deleted
			require.NoError(t, s.Delete(ctx, key))
			continue
		case 1: // moved to the other owner
			requireUpdate(t, s, key, store.Change{Owner: ptr(other)}, 2)
			moved++
		case 2: // written to
			requireUpdate(t, s, key, store.Change{Set: fields("x", "1")}, 2)
			live++
		case 3: // left alone
			live++
		}
		remaining = append(remaining, key)
	}
	owned, err := idx.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, live, "live sessions listed")
	require.GreaterOrEqual(t, count(owner), live, "count must see the index entries of live sessions")
	require.GreaterOrEqual(t, count(other), moved, "count must see the index entries of live sessions")

	// Now everything expires: cut short by a touch, or created so.
	var latest time.Time
	short := func() time.Time {
		e := msTime(shortTTL)
		if e.After(latest) {
			latest = e
		}
		return e
	}
	for _, key := range remaining {
		v := mustUpdate(t, s, key, store.Change{Expires: short()})
		require.GreaterOrEqual(t, v, uint64(2))
	}
	for range boundedSessions / 4 {
		rec := ownedRecord(owner, 0)
		rec.Expires = short()
		mustCreate(t, s, NewKey(t), rec)
	}

	time.Sleep(time.Until(latest) + expiryMargin)
	switch d := s.(type) {
	case interface {
		DeleteExpired(ctx context.Context) error
	}:
		require.NoError(t, d.DeleteExpired(ctx), "DeleteExpired")
	case interface {
		DeleteExpired(ctx context.Context) (int64, error)
	}:
		_, err := d.DeleteExpired(ctx)
		require.NoError(t, err, "DeleteExpired")
	}
	for _, o := range []string{owner, other} {
		owned, err := idx.Owned(ctx, o)
		require.NoError(t, err)
		require.Empty(t, owned, "expired sessions listed")
	}
	require.Zero(t, count(owner), "index entries left for an owner whose sessions all expired")
	require.Zero(t, count(other), "index entries left for an owner whose sessions all expired")
}

// requireOwnerIndex returns s as a store.OwnerIndex, failing the test
// when it is not one.
func requireOwnerIndex(t *testing.T, s store.Store) store.OwnerIndex {
	t.Helper()
	require.NotNil(t, s, "storetest: newStore returned nil")
	idx, ok := s.(store.OwnerIndex)
	require.Truef(t, ok, "storetest: %T does not implement store.OwnerIndex", s)
	return idx
}

// newOwner returns a fresh owner text, unique to this run: what, then a
// random part.
func newOwner(t *testing.T, what string) string {
	t.Helper()
	return what + "#" + NewKey(t)[:10] + ":"
}

// ownedRecord returns a record of owner with one field, created now and
// expiring after ttl, times in whole milliseconds.
func ownedRecord(owner string, ttl time.Duration) store.Record {
	return store.Record{
		Fields:  fields("uid", owner),
		Created: msTime(0),
		Expires: msTime(ttl),
		Version: 1,
		Owner:   owner,
	}
}

// createOwned creates a fresh session of owner ("" for none) that
// expires after ttl and returns its key and record.
func createOwned(t *testing.T, s store.Store, owner string, ttl time.Duration) (string, store.Record) {
	t.Helper()
	key := NewKey(t)
	rec := ownedRecord(owner, ttl)
	mustCreate(t, s, key, rec)
	return key, rec
}

// requireOwned fails unless Owned(owner) lists exactly the sessions in
// want (key to record), each once, with the record's times and version.
func requireOwned(t *testing.T, s store.Store, owner string, want map[string]store.Record) {
	t.Helper()
	owned, err := s.(store.OwnerIndex).Owned(t.Context(), owner)
	require.NoErrorf(t, err, "Owned(%q)", owner)
	got := make(map[string]store.Owned, len(owned))
	for _, o := range owned {
		_, dup := got[o.Key]
		require.Falsef(t, dup, "Owned(%q) lists a session twice", owner)
		got[o.Key] = o
	}
	wantKeys := make([]string, 0, len(want))
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	gotKeys := make([]string, 0, len(got))
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	require.ElementsMatchf(t, wantKeys, gotKeys, "keys listed by Owned(%q)", owner)
	for k, rec := range want {
		o := got[k]
		requireTime(t, rec.Created, o.Created, "Owned Created")
		requireTime(t, rec.Expires, o.Expires, "Owned Expires")
		require.Equalf(t, rec.Version, o.Version, "Owned(%q) Version", owner)
	}
}
