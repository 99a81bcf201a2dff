package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// holdFirst makes the round trips of s's writes wait, once begun, until
// release is called (at the latest when the test ends); started is
// closed when the first begins. sizes returns the size of each group s
// has sent since. Call it before s writes anything.
func holdFirst(t *testing.T, s *Store) (started <-chan struct{}, release func(), sizes func() []int) {
	t.Helper()
	begun, gate := make(chan struct{}), make(chan struct{})
	var (
		first, released sync.Once
		mu              sync.Mutex
		seen            []int
	)
	s.hold = func(ws []*write) {
		mu.Lock()
		seen = append(seen, len(ws))
		mu.Unlock()
		first.Do(func() { close(begun) })
		<-gate
	}
	release = func() { released.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return begun, release, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// burst runs calls concurrently with the round trips held until every
// call is in one (each lane of the committer took one) or waits in the
// committer's queue, so that the waiting ones go together in the next
// round trips. It returns, once all are done, the size of each group
// sent.
func burst(t *testing.T, s *Store, calls ...func()) []int {
	t.Helper()
	started, release, sizes := holdFirst(t, s)
	defer func() { s.hold = nil }()
	var done sync.WaitGroup
	done.Add(len(calls))
	go func() {
		defer done.Done()
		calls[0]()
	}()
	<-started
	for _, call := range calls[1:] {
		go func() {
			defer done.Done()
			call()
		}()
	}
	require.Eventually(t, func() bool {
		sent := 0
		for _, n := range sizes() {
			sent += n
		}
		return sent+s.writes.Waiting() == len(calls)
	}, 30*time.Second, time.Millisecond, "every call in a round trip or waiting")
	release()
	done.Wait()
	return sizes()
}

// groupStats returns the groups and items s's committer has sent.
func (s *Store) groupStats() (groups, items uint64) { return s.writes.Stats() }

// sortedKeys returns n fresh keys in ascending order.
func sortedKeys(t *testing.T, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
	}
	slices.Sort(keys)
	return keys
}

// set is a Change setting the fields kv (key, value, ...).
func set(kv ...string) store.Change {
	return store.Change{Set: enginetest.LiveRecord(kv...).Fields}
}

// TestGroupedUpdates: 64 concurrent Updates of distinct sessions (and
// the 64 Creates before them) all land, each with its own version, in
// fewer round trips than changes.
func TestGroupedUpdates(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t), WithCleanupInterval(0))
	ctx := context.Background()
	const n = 64
	keys := make([]string, n)
	created := make([]error, n)
	calls := make([]func(), n)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		calls[i] = func() { created[i] = s.Create(ctx, keys[i], enginetest.LiveRecord("i", fmt.Sprint(i))) }
	}
	burst(t, s, calls...)
	for i, err := range created {
		require.NoError(t, err, "Create %d", i)
	}
	groups, items := s.groupStats()
	assert.Equal(t, uint64(n), items, "changes sent")
	assert.Less(t, groups, items, "round trips of %d concurrent Creates", n)

	versions := make([]uint64, n)
	errs := make([]error, n)
	for i := range calls {
		calls[i] = func() { versions[i], errs[i] = s.Update(ctx, keys[i], set("u", fmt.Sprint(i))) }
	}
	burst(t, s, calls...)
	for i := range keys {
		require.NoError(t, errs[i], "Update %d", i)
		assert.Equal(t, uint64(2), versions[i], "version of Update %d", i)
		got, err := s.Load(ctx, keys[i])
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"i": fmt.Sprint(i), "u": fmt.Sprint(i)}, asText(got.Fields), "session %d", i)
	}
	g2, i2 := s.groupStats()
	assert.Equal(t, uint64(n), i2-items, "changes sent")
	assert.Less(t, g2-groups, i2-items, "round trips of %d concurrent Updates", n)
}

// mixed is a group of writes where each failing check has its item,
// between items that succeed, with what each must return and leave.
type mixed struct {
	ws    []*write
	want  []error  // each write's outcome
	vers  []uint64 // each successful Update's version (0 for the others)
	check func(t *testing.T)
}

// newMixed plants the sessions of a mixed group on s and returns it.
func newMixed(t *testing.T, s *Store, pool *pgxpool.Pool, sessions string) mixed {
	ctx := context.Background()
	live := func() string {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		return key
	}
	good, conflict, large, exists, good2 := live(), live(), live(), live(), live()
	missing, fresh := storetest.NewKey(t), storetest.NewKey(t)
	corrupt := plant(t, s, pool, sessions, "", "version = 0")
	now := s.now()
	update := func(key string, c store.Change) *write {
		w, err := newUpdate(key, c, now)
		require.NoError(t, err)
		return w
	}
	create := func(key string, rec store.Record) *write {
		w, err := newCreate(key, rec, now)
		require.NoError(t, err)
		return w
	}
	tooLarge := set("big", strings.Repeat("x", 100))
	tooLarge.MaxSize = 50
	return mixed{
		ws: []*write{
			update(good, set("b", "2")),
			update(missing, set("b", "2")),
			update(conflict, store.Change{Set: enginetest.LiveRecord("b", "2").Fields, Expect: map[string][]byte{"a": []byte("0")}}),
			update(large, tooLarge),
			create(exists, enginetest.LiveRecord("z", "9")),
			update(corrupt, set("c", "3")),
			create(fresh, enginetest.LiveRecord("n", "1")),
			update(good2, store.Change{Set: enginetest.LiveRecord("b", "2").Fields, Expect: map[string][]byte{"a": []byte("1")}}),
		},
		want: []error{nil, store.ErrNotFound, store.ErrConflict, store.ErrTooLarge, store.ErrExists, store.ErrCorrupt, nil, nil},
		vers: []uint64{2, 0, 0, 0, 0, 0, 0, 2},
		check: func(t *testing.T) {
			for key, want := range map[string]map[string]string{
				good: {"a": "1", "b": "2"}, good2: {"a": "1", "b": "2"}, fresh: {"n": "1"},
				conflict: {"a": "1"}, large: {"a": "1"}, exists: {"a": "1"},
			} {
				got, err := s.Load(ctx, key)
				require.NoError(t, err)
				assert.Equal(t, want, asText(got.Fields))
				if key == conflict || key == large || key == exists || key == fresh {
					assert.Equal(t, uint64(1), got.Version, "version of a session the group did not change")
				}
			}
			_, err := s.Load(ctx, missing)
			require.ErrorIs(t, err, store.ErrNotFound, "an Update brings no session back")
		},
	}
}

// requireOutcomes checks each error against the mixed group's.
func (m mixed) requireOutcomes(t *testing.T, errs []error) {
	t.Helper()
	require.Len(t, errs, len(m.want))
	for i, want := range m.want {
		if want == nil {
			require.NoError(t, errs[i], "item %d", i)
			if m.ws[i].create == nil {
				assert.Equal(t, m.vers[i], m.ws[i].version, "version of item %d", i)
			}
		} else {
			require.ErrorIs(t, errs[i], want, "item %d", i)
		}
	}
	m.check(t)
}

// TestGroupFailsOnlyItsFailures: in one group, the items failing each
// check (a missing session, a failed expectation, the size limit, a live
// session under a Create's key, a damaged row) fail alone, and the rest
// land, in one round trip.
func TestGroupFailsOnlyItsFailures(t *testing.T) {
	var c enginetest.Counter
	cfg := testConfig(t)
	cfg.ConnConfig.DialFunc = c.Dial()
	cfg.MaxConns = 1
	pool := newPool(t, cfg)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	m := newMixed(t, s, pool, sessions)
	// Warm up: the connection prepares the statements, alone and grouped.
	_, err := s.Update(context.Background(), storetest.NewKey(t), set("w", "1"))
	require.ErrorIs(t, err, store.ErrNotFound)
	var warm []*write
	for range 2 {
		w, err := newUpdate(storetest.NewKey(t), set("w", "1"), s.now())
		require.NoError(t, err)
		warm = append(warm, w)
	}
	for _, err := range s.send(context.Background(), warm) {
		require.ErrorIs(t, err, store.ErrNotFound)
	}

	c.Reset()
	errs := s.send(context.Background(), m.ws)
	trips, _ := c.Get()
	assert.Equal(t, 1, trips, "round trips of a group of %d", len(m.ws))
	m.requireOutcomes(t, errs)
}

// TestGroupFailsOnlyItsFailuresConcurrently is the same group made of
// concurrent calls.
func TestGroupFailsOnlyItsFailuresConcurrently(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	m := newMixed(t, s, pool, sessions)
	ctx := context.Background()
	errs := make([]error, len(m.ws))
	calls := make([]func(), len(m.ws))
	for i, w := range m.ws {
		if w.create != nil {
			rec := store.Record{Fields: map[string][]byte{}, Created: w.create.created, Expires: w.create.expires}
			for j, name := range w.create.names {
				rec.Fields[name] = w.create.values[j]
			}
			calls[i] = func() { errs[i] = s.Create(ctx, w.key, rec) }
			continue
		}
		c := store.Change{Set: map[string][]byte{}, MaxSize: int(w.change.limit), Expect: map[string][]byte{}}
		for j, name := range w.change.names {
			c.Set[name] = w.change.values[j]
		}
		for j, name := range w.change.expect {
			c.Expect[name] = w.change.want[j]
		}
		calls[i] = func() { w.version, errs[i] = s.Update(ctx, w.key, c) }
	}
	groups, items := s.groupStats()
	burst(t, s, calls...)
	m.requireOutcomes(t, errs)
	g, n := s.groupStats()
	assert.Equal(t, uint64(len(m.ws)), n-items)
	assert.Less(t, g-groups, n-items, "round trips")
}

// TestGroupSameKey: writes of one key in one group apply in their
// arrival order, each seeing the ones before, between writes of other
// keys that sort before and after it.
func TestGroupSameKey(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t), WithCleanupInterval(0))
	ctx := context.Background()
	keys := sortedKeys(t, 3)
	low, key, high := keys[0], keys[1], keys[2]
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("a", "0")))
	}
	later := storetest.NewKey(t) // Updated before it is Created, in one group
	now := s.now()
	update := func(k string, c store.Change) *write {
		w, err := newUpdate(k, c, now)
		require.NoError(t, err)
		return w
	}
	expect := func(c store.Change, name, value string) store.Change {
		c.Expect = map[string][]byte{name: []byte(value)}
		return c
	}
	create, err := newCreate(later, enginetest.LiveRecord("l", "1"), now)
	require.NoError(t, err)
	recreate, err := newCreate(key, enginetest.LiveRecord("r", "1"), now)
	require.NoError(t, err)
	ws := []*write{
		update(high, set("h", "1")),
		update(key, expect(set("a", "1"), "a", "0")), // version 2
		update(later, set("l", "0")),                 // not yet created
		update(low, set("l", "1")),
		update(key, expect(set("b", "2"), "a", "1")), // sees the first: version 3
		update(key, expect(set("c", "3"), "a", "0")), // its expectation no longer holds
		create,
		recreate, // the session under key is live
		update(later, expect(set("l", "2"), "l", "1")),
	}
	errs := s.send(ctx, ws)
	want := []error{nil, nil, store.ErrNotFound, nil, nil, store.ErrConflict, nil, store.ErrExists, nil}
	vers := []uint64{2, 2, 0, 2, 3, 0, 0, 0, 2}
	for i := range ws {
		if want[i] == nil {
			require.NoError(t, errs[i], "item %d", i)
		} else {
			require.ErrorIs(t, errs[i], want[i], "item %d", i)
		}
		if ws[i].create == nil && want[i] == nil {
			assert.Equal(t, vers[i], ws[i].version, "version of item %d", i)
		}
	}
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, asText(got.Fields))
	assert.Equal(t, uint64(3), got.Version)
	got, err = s.Load(ctx, later)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"l": "2"}, asText(got.Fields))
	assert.Equal(t, uint64(2), got.Version)
}

// TestGroupFallsBackAlone: a statement error aborts the group's
// transaction (here a Create under a key PostgreSQL cannot hold as text,
// as a bad caller might pass): each item is sent again alone, so that
// one fails and the others land with their own outcomes. With the
// extended protocol (a pipeline) and the simple one (one
// multi-statement query).
func TestGroupFallsBackAlone(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			s := newTestStore(t, newPool(t, cfg), tableOpt(t), WithCleanupInterval(0))
			ctx := context.Background()
			good, fresh, missing := storetest.NewKey(t), storetest.NewKey(t), storetest.NewKey(t)
			require.NoError(t, s.Create(ctx, good, enginetest.LiveRecord("a", "1")))
			now := s.now()
			up, err := newUpdate(good, set("b", "2"), now)
			require.NoError(t, err)
			bad, err := newCreate("nul\x00key", enginetest.LiveRecord("a", "1"), now)
			require.NoError(t, err)
			create, err := newCreate(fresh, enginetest.LiveRecord("f", "1"), now)
			require.NoError(t, err)
			lost, err := newUpdate(missing, set("b", "2"), now)
			require.NoError(t, err)

			// The group alone fails as a whole.
			_, err = s.exchange(ctx, []*write{up, bad, create, lost})
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, "the group's batch")
			require.True(t, rolledBack(err))

			errs := s.send(ctx, []*write{up, bad, create, lost})
			require.NoError(t, errs[0])
			assert.Equal(t, uint64(2), up.version)
			require.Error(t, errs[1], "the Create the server refuses")
			require.ErrorAs(t, errs[1], &pgErr, "the server's own error")
			for _, sentinel := range []error{store.ErrExists, store.ErrNotFound, store.ErrInvalid} {
				require.NotErrorIs(t, errs[1], sentinel)
			}
			require.NoError(t, errs[2])
			require.ErrorIs(t, errs[3], store.ErrNotFound)

			got, err := s.Load(ctx, good)
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"a": "1", "b": "2"}, asText(got.Fields))
			assert.Equal(t, uint64(2), got.Version, "written once, by the solo run")
			got, err = s.Load(ctx, fresh)
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"f": "1"}, asText(got.Fields))

			// The same through concurrent calls.
			keys := []string{storetest.NewKey(t), "nul\x00key", storetest.NewKey(t), storetest.NewKey(t)}
			errs = make([]error, len(keys))
			calls := make([]func(), len(keys))
			for i, k := range keys {
				calls[i] = func() { errs[i] = s.Create(ctx, k, enginetest.LiveRecord("a", "1")) }
			}
			burst(t, s, calls...)
			for i, k := range keys {
				if i == 1 {
					require.ErrorContains(t, errs[i], "pgstore: create: ")
					continue
				}
				require.NoError(t, errs[i], "Create %d", i)
				_, err := s.Load(ctx, k)
				require.NoError(t, err)
			}
		})
	}
}

// lockRow takes, in a transaction of its own on pool, the lock on the
// session row under key, and returns the transaction.
func lockRow(t *testing.T, pool *pgxpool.Pool, sessions, key string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, "SELECT 1 FROM "+quoteTable(sessions)+" WHERE session_key = $1 FOR UPDATE", key)
	require.NoError(t, err)
	return tx
}

// waitingForLock waits until a statement on the table sessions waits
// for a lock.
func waitingForLock(t *testing.T, pool *pgxpool.Pool, sessions string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%'",
			quoteTable(sessions)).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "a write waits for the lock")
}

// setB returns, in the order of keys, one write per key that sets b to
// "2", all begun at the store's clock now.
func setB(t *testing.T, s *Store, keys ...string) []*write {
	t.Helper()
	now := s.now()
	ws := make([]*write, 0, len(keys))
	for _, k := range keys {
		w, err := newUpdate(k, set("b", "2"), now)
		require.NoError(t, err)
		ws = append(ws, w)
	}
	return ws
}

// TestGroupLocksInKeyOrder: a group takes its row locks in key order,
// not in arrival order, so it holds no lock on a later key while it
// waits for an earlier one.
func TestGroupLocksInKeyOrder(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	keys := sortedKeys(t, 2)
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("a", "1")))
	}
	tx := lockRow(t, pool, sessions, keys[0])
	ws := setB(t, s, keys[1], keys[0]) // arrival: the later key first
	done := make(chan []error, 1)
	go func() { done <- s.send(ctx, ws) }()
	waitingForLock(t, pool, sessions)

	// While the group waits for the first key, the second is free.
	_, err := pool.Exec(ctx, "SELECT 1 FROM "+quoteTable(sessions)+" WHERE session_key = $1 FOR UPDATE NOWAIT", keys[1])
	assert.NoError(t, err, "the later key is not locked by the waiting group")

	require.NoError(t, tx.Commit(ctx))
	for i, err := range <-done {
		require.NoError(t, err, "item %d", i)
		assert.Equal(t, uint64(2), ws[i].version)
	}
}

// TestGroupDeadlockFallsBackAlone: a group that the server aborts as a
// deadlock's victim is sent again item by item, and both items land,
// once each. Another transaction holds the second key's lock while the
// group waits for it holding the first, then asks for the first.
//
// The server process that finds the cycle aborts its own transaction,
// and each waiter looks once, deadlock_timeout (1 second by default)
// after it began to wait. The group began first, so it usually finds the
// cycle; but when the other transaction's request comes more than that
// second later (a busy machine), the group has already looked and the
// other transaction is the victim. That attempt still must land both
// items once; the test then tries again with new keys until the group
// is the victim, which is the path it is for.
func TestGroupDeadlockFallsBackAlone(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	const attempts = 10
	for attempt := 1; ; attempt++ {
		keys := sortedKeys(t, 2)
		for _, k := range keys {
			require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("a", "1")))
		}
		tx := lockRow(t, pool, sessions, keys[1])
		ws := setB(t, s, keys...)
		done := make(chan []error, 1)
		go func() { done <- s.send(ctx, ws) }()
		waitingForLock(t, pool, sessions) // holding the first key, waiting for the second
		_, err := tx.Exec(ctx, "SELECT 1 FROM "+quoteTable(sessions)+" WHERE session_key = $1 FOR UPDATE", keys[0])
		groupAborted := err == nil // the first key is free once the group is aborted
		if groupAborted {
			// The items, sent again alone, wait for this transaction.
			require.NoError(t, tx.Commit(ctx))
		} else {
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.Equal(t, "40P01", pgErr.Code, "the other transaction can fail only as the deadlock's victim")
			require.NoError(t, tx.Rollback(ctx))
		}
		for i, err := range <-done {
			require.NoError(t, err, "item %d", i)
			assert.Equal(t, uint64(2), ws[i].version, "version of item %d", i)
			got, err := s.Load(ctx, keys[i])
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"a": "1", "b": "2"}, asText(got.Fields))
			assert.Equal(t, uint64(2), got.Version, "applied once")
		}
		if groupAborted {
			return
		}
		t.Logf("attempt %d: the other transaction was the deadlock's victim; trying again", attempt)
		require.Less(t, attempt, attempts, "the group was never the deadlock's victim")
	}
}

// TestWithMaxGroup: New refuses a group of fewer than one change; with
// WithMaxGroup(n) no round trip holds more than n changes, and with 1
// there is no committer: every change goes alone and at once, as without
// grouping.
func TestWithMaxGroup(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	for _, n := range []int{0, -1} {
		_, err := New(context.Background(), pool, tables, WithCreateSchema(true), WithMaxGroup(n))
		require.EqualError(t, err, fmt.Sprintf("pgstore: new: WithMaxGroup(%d): a group holds at least one change", n))
	}
	t.Run("1", func(t *testing.T) {
		s := newTestStore(t, pool, tables, WithCleanupInterval(0), WithMaxGroup(1))
		require.Nil(t, s.writes, "no committer")
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 16 {
			key := storetest.NewKey(t)
			require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
			wg.Go(func() {
				v, err := s.Update(ctx, key, set("b", "2"))
				assert.NoError(t, err)
				assert.Equal(t, uint64(2), v)
			})
		}
		wg.Wait()
	})
	for _, size := range []int{3} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := newTestStore(t, pool, tables, WithCleanupInterval(0), WithMaxGroup(size))
			ctx := context.Background()
			const n = 16
			keys := make([]string, n)
			for i := range keys {
				keys[i] = storetest.NewKey(t)
				require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("a", "1")))
			}
			errs := make([]error, n)
			versions := make([]uint64, n)
			calls := make([]func(), n)
			for i := range calls {
				calls[i] = func() { versions[i], errs[i] = s.Update(ctx, keys[i], set("b", "2")) }
			}
			g0, i0 := s.groupStats()
			sizes := burst(t, s, calls...)
			for i := range keys {
				require.NoError(t, errs[i])
				assert.Equal(t, uint64(2), versions[i])
			}
			g, items := s.groupStats()
			assert.Equal(t, uint64(n), items-i0)
			assert.LessOrEqual(t, slices.Max(sizes), size, "the largest group")
			assert.Less(t, g-g0, items-i0, "grouped")
		})
	}
}

// TestConformanceUngrouped runs the suite with every change alone.
func TestConformanceUngrouped(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	newTestStore(t, pool, tables)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables, WithMaxGroup(1))
	})
}
