package mysqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// withLanes sets the number of groups in flight at once: the tests that
// line changes up behind a held group use 1, so that every change after
// it waits.
func withLanes(n int) Option {
	return func(c *config) { c.lanes = n }
}

// waitQueued waits until n changes wait in the committer of s.
func waitQueued(t *testing.T, s *Store, n int, what string) {
	t.Helper()
	require.Eventually(t, func() bool { return s.committer.Waiting() == n }, 30*time.Second, time.Millisecond, "%s", what)
}

// wait waits until ch is closed, failing the test after a long while.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// inOneGroup runs ops as one group of s (see [runHeld]), checks that
// they went in one group and returns their results in order.
func inOneGroup(t *testing.T, s *Store, ops ...func(ctx context.Context) error) []error {
	t.Helper()
	errs, sizes := runHeld(t, s, ops...)
	require.Equal(t, []int{1, len(ops)}, sizes, "the held group, then every op in one group")
	return errs
}

// held is a committer held by a lone Update of a session of its own:
// its send waits until release, so every change made meanwhile waits in
// the queue.
type held struct {
	mu      sync.Mutex
	sizes   []int // of the groups sent, the held one first
	release chan struct{}
	done    chan error // the held Update's result
}

// hold holds the committer of s (see [held]) until h.let, and counts the
// sizes of the groups sent. s must not be sending anything.
func hold(t *testing.T, ctx context.Context, s *Store) *held {
	t.Helper()
	warm := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, warm, enginetest.LiveRecord("a", "1")))
	h := &held{release: make(chan struct{}), done: make(chan error, 1)}
	started := make(chan struct{})
	s.beforeSend = func(n int) {
		h.mu.Lock()
		h.sizes = append(h.sizes, n)
		first := len(h.sizes) == 1
		h.mu.Unlock()
		if first {
			close(started)
			<-h.release
		}
	}
	go func() {
		_, err := s.Update(ctx, warm, set("a", "2"))
		h.done <- err
	}()
	wait(t, started, "the held group")
	return h
}

// let lets the held group go and returns its Update's result.
func (h *held) let() error {
	close(h.release)
	return <-h.done
}

// groupSizes returns the sizes of the groups sent so far.
func (h *held) groupSizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sizes)
}

// runHeld holds the committer of s (see [hold]), starts the ops one
// after another, each once the one before waits in the committer's queue
// or has returned (so they arrive in the order given), then lets the held
// group go, so the ops form the next group. It returns their results, in
// order, and the sizes of the groups sent meanwhile. An op that queues a
// change and returns before the release (a caller giving up) does not
// fit: it could pass for one still waiting.
func runHeld(t *testing.T, s *Store, ops ...func(ctx context.Context) error) ([]error, []int) {
	t.Helper()
	require.LessOrEqual(t, len(ops), DefaultMaxGroup)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := hold(t, ctx, s)
	defer func() { s.beforeSend = nil }()

	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	queued := 0
	for i, op := range ops {
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			errs[i] = op(ctx)
		})
		require.Eventually(t, func() bool {
			select {
			case <-done:
				return true
			default:
				return s.committer.Waiting() == queued+1
			}
		}, 30*time.Second, time.Millisecond, "op %d to queue", i)
		select {
		case <-done:
		default:
			queued++
		}
	}
	require.NoError(t, h.let())
	wg.Wait()
	return errs, h.groupSizes()
}

// groupStore returns a store on a fresh table, grouping on, cleanup off.
func groupStore(t *testing.T, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0), withLanes(1)}, opts...)
	return newTestStore(t, testDB(t), opts...)
}

// set is a Change setting one field.
func set(k, v string) store.Change {
	return store.Change{Set: map[string][]byte{k: []byte(v)}}
}

// updateOp is an op updating key with c, storing the version in *v.
func updateOp(s *Store, key string, c store.Change, v *uint64) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		got, err := s.Update(ctx, key, c)
		*v = got
		return err
	}
}

// requireFields checks the stored fields and version of key.
func requireFields(t *testing.T, s *Store, key string, version uint64, kv ...string) {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	require.NoError(t, err)
	want := enginetest.LiveRecord(kv...).Fields
	assert.Equal(t, want, rec.Fields, "fields of %s", key)
	assert.Equal(t, version, rec.Version, "version of %s", key)
}

// TestGroupManyUpdates: 64 Updates of distinct sessions waiting together
// go in one group (one transaction, one commit) and each lands with its
// own version.
func TestGroupManyUpdates(t *testing.T) {
	s := groupStore(t)
	ctx := context.Background()
	const n = 64
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("a", "1")))
		if i%2 == 1 { // half the sessions one version ahead
			_, err := s.Update(ctx, keys[i], set("a", "1"))
			require.NoError(t, err)
		}
	}
	versions := make([]uint64, n)
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = updateOp(s, keys[i], set("b", fmt.Sprint(i)), &versions[i])
	}
	groups, items := s.groupCounts()
	for i, err := range inOneGroup(t, s, ops...) {
		require.NoError(t, err, "update %d", i)
	}
	g, it := s.groupCounts()
	// inOneGroup's Create and held Update went alone, the n together.
	assert.Equal(t, uint64(3), g-groups, "groups: two alone and one of %d", n)
	assert.Equal(t, uint64(n+2), it-items)
	for i, key := range keys {
		want := uint64(2 + i%2)
		assert.Equal(t, want, versions[i], "version returned for %d", i)
		requireFields(t, s, key, want, "a", "1", "b", fmt.Sprint(i))
	}
	assert.Zero(t, s.stats.fallbacks.Load(), "no group fell back to single changes")
}

// TestGroupFreeRunning: many clients updating at once, unsynchronised,
// all land with their versions, in fewer groups than changes.
func TestGroupFreeRunning(t *testing.T) {
	s := groupStore(t)
	ctx := context.Background()
	const clients, rounds = 64, 5
	keys := make([]string, clients)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord()))
	}
	groups, items := s.groupCounts()
	start := make(chan struct{})
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			<-start
			for r := range rounds {
				v, err := s.Update(ctx, key, set("n", fmt.Sprint(r)))
				if err == nil && v != uint64(r+2) {
					err = fmt.Errorf("client %d round %d: version %d, want %d", i, r, v, r+2)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, key := range keys {
		requireFields(t, s, key, rounds+1, "n", fmt.Sprint(rounds-1))
	}
	g, it := s.groupCounts()
	assert.Equal(t, uint64(clients*rounds), it-items)
	assert.Less(t, g-groups, it-items, "fewer groups than changes")
	t.Logf("%d changes in %d groups", it-items, g-groups)
}

// TestGroupRefusalsFailAlone: in one group, each change that fails its
// own condition gets its own error and writes nothing; the others land.
func TestGroupRefusalsFailAlone(t *testing.T) {
	table, opt := testTable(t)
	db := testDB(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0), withLanes(1))
	ctx := context.Background()
	live := func() string {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		return key
	}
	good1, good2, conflict, large, exists, corrupt := live(), live(), live(), live(), live(), live()
	plant(t, db, table, corrupt, dataIs("a non-base64 name", `{"!!": "AA=="}`))
	corruptRow := rawRow(t, db, table, corrupt)
	missing, missingCAS, fresh := storetest.NewKey(t), storetest.NewKey(t), storetest.NewKey(t)

	var v [8]uint64
	cas := store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}}
	stale := store.Change{Set: map[string][]byte{"a": []byte("3")}, Expect: map[string][]byte{"a": []byte("0")}}
	big := store.Change{Set: map[string][]byte{"big": []byte(strings.Repeat("x", 100))}, MaxSize: 50}
	errs := inOneGroup(t, s,
		updateOp(s, good1, set("b", "1"), &v[0]),
		updateOp(s, missing, set("b", "1"), &v[1]),
		updateOp(s, conflict, stale, &v[2]),
		updateOp(s, good2, cas, &v[3]),
		updateOp(s, large, big, &v[4]),
		func(ctx context.Context) error { return s.Create(ctx, exists, enginetest.LiveRecord("z", "9")) },
		updateOp(s, missingCAS, cas, &v[5]),
		func(ctx context.Context) error { return s.Create(ctx, fresh, enginetest.LiveRecord("f", "1")) },
		updateOp(s, corrupt, cas, &v[6]),
	)
	require.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], store.ErrNotFound)
	assert.ErrorIs(t, errs[2], store.ErrConflict)
	require.NoError(t, errs[3])
	assert.ErrorIs(t, errs[4], store.ErrTooLarge)
	assert.ErrorIs(t, errs[5], store.ErrExists)
	assert.ErrorIs(t, errs[6], store.ErrNotFound)
	require.NoError(t, errs[7])
	assert.ErrorIs(t, errs[8], store.ErrCorrupt)
	for i, err := range errs {
		if err != nil {
			assert.Regexp(t, `^mysqlstore: (update|create): `, err.Error(), "error %d names the engine and operation", i)
		}
	}
	assert.Equal(t, uint64(2), v[0])
	assert.Equal(t, uint64(2), v[3])

	requireFields(t, s, good1, 2, "a", "1", "b", "1")
	requireFields(t, s, good2, 2, "a", "2")
	requireFields(t, s, conflict, 1, "a", "1")
	requireFields(t, s, large, 1, "a", "1")
	requireFields(t, s, exists, 1, "a", "1")
	requireFields(t, s, fresh, 1, "f", "1")
	for _, key := range []string{missing, missingCAS} {
		_, err := s.Load(ctx, key)
		assert.ErrorIs(t, err, store.ErrNotFound, "a refused Update creates nothing")
	}
	assert.Equal(t, corruptRow, rawRow(t, db, table, corrupt), "the corrupt row is untouched")
	assert.Zero(t, s.stats.fallbacks.Load(), "refusals do not send the group back")
}

// TestGroupSameKey: changes of one session in one group apply in their
// arrival order, each on the result of the one before, whatever the
// other sessions' keys sort as.
func TestGroupSameKey(t *testing.T) {
	s := groupStore(t)
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	// Keys sorting before and after key, between its changes.
	before, after := "!"+key, key+"~"
	for _, k := range []string{before, after} {
		require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("a", "1")))
	}
	var v [6]uint64
	cas := func(from, to string) store.Change {
		return store.Change{Set: map[string][]byte{"a": []byte(to)}, Expect: map[string][]byte{"a": []byte(from)}}
	}
	errs := inOneGroup(t, s,
		updateOp(s, after, set("b", "1"), &v[0]),
		updateOp(s, key, cas("1", "2"), &v[1]),
		updateOp(s, before, set("b", "1"), &v[2]),
		updateOp(s, key, cas("2", "3"), &v[3]), // sees the change before it
		updateOp(s, key, cas("2", "4"), &v[4]), // no longer holds
		updateOp(s, key, set("c", "1"), &v[5]),
	)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	require.NoError(t, errs[3])
	assert.ErrorIs(t, errs[4], store.ErrConflict)
	require.NoError(t, errs[5])
	assert.Equal(t, []uint64{2, 2, 2, 3, 0, 4}, v[:])
	requireFields(t, s, key, 4, "a", "3", "c", "1")

	// A Create and the Updates after it, in one group.
	fresh := storetest.NewKey(t)
	errs = inOneGroup(t, s,
		updateOp(s, fresh, set("b", "1"), &v[0]), // before the Create: not found
		func(ctx context.Context) error { return s.Create(ctx, fresh, enginetest.LiveRecord("a", "1")) },
		updateOp(s, fresh, set("b", "2"), &v[1]),
		func(ctx context.Context) error { return s.Create(ctx, fresh, enginetest.LiveRecord("x", "1")) },
		updateOp(s, fresh, cas("1", "2"), &v[2]),
	)
	assert.ErrorIs(t, errs[0], store.ErrNotFound)
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	assert.ErrorIs(t, errs[3], store.ErrExists)
	require.NoError(t, errs[4])
	assert.Equal(t, []uint64{2, 3}, v[1:3])
	requireFields(t, s, fresh, 3, "a", "2", "b", "2")
}

// TestGroupFallsBackOnServerError: a statement the server refuses (here
// the version counter of a session is at its maximum, so bumping it is
// out of range) sends the whole group back: every change runs again
// alone, and only the one that fails alone fails, with the error it
// gets alone.
func TestGroupFallsBackOnServerError(t *testing.T) {
	table, opt := testTable(t)
	db := testDB(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0), withLanes(1))
	ctx := context.Background()
	live := func() string {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		return key
	}
	good1, full, good2, cas := live(), live(), live(), live()
	fresh := storetest.NewKey(t)
	_, err := db.ExecContext(ctx, "UPDATE "+quoteTable(table)+" SET version = ? WHERE session_key = ?", int64(math.MaxInt64), full)
	require.NoError(t, err)
	_, aloneErr := s.Update(ctx, full, set("b", "1"))
	require.Error(t, aloneErr, "the server refuses the Update alone")
	require.NotErrorIs(t, aloneErr, store.ErrNotFound)

	var v [4]uint64
	errs := inOneGroup(t, s,
		updateOp(s, good1, set("b", "1"), &v[0]),
		updateOp(s, full, set("b", "1"), &v[1]),
		updateOp(s, cas, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("0")}}, &v[2]),
		func(ctx context.Context) error { return s.Create(ctx, fresh, enginetest.LiveRecord("f", "1")) },
		updateOp(s, good2, set("b", "2"), &v[3]),
	)
	require.NoError(t, errs[0])
	assert.EqualError(t, errs[1], aloneErr.Error(), "the same error as alone")
	assert.ErrorIs(t, errs[2], store.ErrConflict)
	require.NoError(t, errs[3])
	require.NoError(t, errs[4])
	assert.Equal(t, uint64(1), s.stats.fallbacks.Load(), "the group ran again change by change")
	assert.Equal(t, uint64(2), v[0])
	assert.Equal(t, uint64(2), v[3])
	requireFields(t, s, good1, 2, "a", "1", "b", "1")
	requireFields(t, s, good2, 2, "a", "1", "b", "2")
	requireFields(t, s, cas, 1, "a", "1")
	requireFields(t, s, fresh, 1, "f", "1")
	requireFields(t, s, full, math.MaxInt64, "a", "1")
}

// TestGroupFallsBackOnDeadlock: a group the server aborts for a deadlock
// (with another client's transaction taking the group's rows in the
// other order) runs again change by change, and every change lands once.
func TestGroupFallsBackOnDeadlock(t *testing.T) {
	table, opt := testTable(t)
	db := testDB(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0), withLanes(1))
	ctx := context.Background()
	keys := make([]string, 8)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("a", "1")))
	}
	a, b := min(keys[0], keys[1]), max(keys[0], keys[1]) // the group locks a, then b

	// The other client locks b and more rows (so that InnoDB, which
	// aborts the smaller transaction, picks the group), then a.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	bump := "UPDATE " + quoteTable(table) + " SET data = JSON_SET(data, ?, ?) WHERE session_key = ?"
	for _, k := range append(keys[2:], b) {
		_, err := tx.ExecContext(ctx, bump, fieldPath("x"), encodeValue([]byte("X")), k)
		require.NoError(t, err)
	}
	waiting := func() bool { // a statement on this test's table waits
		var n int
		err := db.QueryRow("SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' AND LOCATE(?, trx_query) > 0", table).Scan(&n)
		return err == nil && n > 0
	}
	lockedA := make(chan error, 1)
	var v [1]uint64
	errs := inOneGroup(t, s,
		updateOp(s, a, set("b", "1"), &v[0]),
		func(ctx context.Context) error {
			// The group holds a and waits for b: close the cycle. InnoDB
			// refreshes innodb_trx at most every 100ms.
			go func() {
				if !assert.Eventually(t, waiting, 10*time.Second, 150*time.Millisecond, "the group waits for b") {
					lockedA <- errors.New("no lock wait")
					return
				}
				_, err := tx.ExecContext(context.Background(), bump, fieldPath("x"), encodeValue([]byte("X")), a)
				if err == nil {
					err = tx.Commit()
				}
				lockedA <- err
			}()
			_, err := s.Update(ctx, b, set("b", "2"))
			return err
		},
	)
	require.NoError(t, <-lockedA, "the other transaction, not the group, went on")
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, uint64(1), s.stats.fallbacks.Load(), "the group ran again change by change")
	requireFields(t, s, a, 2, "a", "1", "b", "1", "x", "X")
	requireFields(t, s, b, 2, "a", "1", "b", "2", "x", "X")
}

// TestGroupWithdrawsGivenUp: a change whose caller gives up while it
// waits for a group is not sent.
func TestGroupWithdrawsGivenUp(t *testing.T) {
	// Not through runHeld: it could take the given-up change, queued for
	// a moment, for one still waiting, and start the next op too early.
	s := groupStore(t)
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	h := hold(t, ctx, s)

	given, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := s.Update(given, key, set("gone", "1"))
		gone <- err
	}()
	waitQueued(t, s, 1, "the given-up change to queue")
	cancel()
	assert.ErrorIs(t, <-gone, context.Canceled)
	assert.Zero(t, s.committer.Waiting(), "the given-up change is withdrawn")

	var v uint64
	next := make(chan error, 1)
	go func() {
		var err error
		v, err = s.Update(ctx, key, set("b", "1"))
		next <- err
	}()
	waitQueued(t, s, 1, "the next change to queue")
	require.NoError(t, h.let())
	require.NoError(t, <-next)
	assert.Equal(t, []int{1, 1}, h.groupSizes(), "the held group, then the one change left")
	assert.Equal(t, uint64(2), v)
	requireFields(t, s, key, 2, "a", "1", "b", "1")
}

// TestMaxGroup: WithMaxGroup refuses sizes below 1; with 1 the store
// sends every change alone, concurrently, without a committer, at one
// round trip each.
func TestMaxGroup(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	for _, n := range []int{0, -1} {
		_, err := New(ctx, db, tableOpt(t), WithCreateSchema(true), WithMaxGroup(n))
		require.EqualError(t, err, fmt.Sprintf("mysqlstore: new: WithMaxGroup(%d): a group holds at least 1 change", n))
	}
	assert.Equal(t, DefaultMaxGroup, newConfig(nil).maxGroup)

	s := groupStore(t, WithMaxGroup(1))
	require.Nil(t, s.committer, "no committer")
	sent := 0
	s.beforeSend = func(int) { sent++ }
	const clients = 16
	keys := make([]string, clients)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord()))
	}
	var wg sync.WaitGroup
	versions := make([]uint64, clients)
	errs := make([]error, clients)
	for i, key := range keys {
		wg.Go(func() { versions[i], errs[i] = s.Update(ctx, key, set("b", "1")) })
	}
	wg.Wait()
	for i, key := range keys {
		require.NoError(t, errs[i])
		assert.Equal(t, uint64(2), versions[i])
		requireFields(t, s, key, 2, "b", "1")
	}
	assert.Zero(t, sent, "no group was sent")
	groups, items := s.groupCounts()
	assert.Zero(t, groups+items)

	var counter enginetest.Counter
	cfg := testConfig(t)
	cfg.DialFunc = counter.Dial()
	one := newDB(t, cfg)
	one.SetMaxOpenConns(1)
	enginetest.RoundTrips(t, newTestStore(t, one, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0), WithMaxGroup(1)), &counter, 48<<10, 512, missingUpdateTrips)
}

// TestConformanceUngrouped runs the suite with grouping off.
func TestConformanceUngrouped(t *testing.T) {
	db := testDB(t)
	table := tableOpt(t)
	newTestStore(t, db, table, WithCreateSchema(true))
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, db, table, WithMaxGroup(1))
	})
}
