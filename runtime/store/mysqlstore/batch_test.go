package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
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

// TestBatchAgreesWithUpdate: a batch (one locking read, the checks in Go,
// one UPDATE for the group) gives each change the outcome, the fields,
// the expiry, the owner and the version that the Update statement gives
// it alone, and leaves its row sealed. Random changes (sets, removals,
// expectations that hold or not, size limits that pass or not, new
// expiries and owners) run on twin sessions: in one batch on one twin,
// alone on the other. In each group one session is missing, one is
// unsealed (a row of an earlier release) and one corrupt, which the
// batch hands to the statements the change runs alone.
func TestBatchAgreesWithUpdate(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed) // a failure's changes come again from its seed
	rng := rand.New(rand.NewPCG(1, seed))
	outcomes := enginetest.NewOutcomes(nil, store.ErrNotFound, store.ErrConflict, store.ErrTooLarge, store.ErrCorrupt)
	for trial := 0; outcomes.Trials(trial, 12, 200); trial++ {
		const n = 12
		var grouped, alone []*change
		var twins [][2]string
		now := s.now()
		for i := range n {
			rec, c := enginetest.RandomUpdate(rng, now)
			pair := [2]string{storetest.NewKey(t), storetest.NewKey(t)}
			for k, key := range pair {
				if i != 0 { // the first of each group finds no session
					require.NoError(t, s.Create(ctx, key, rec))
				}
				switch i {
				case 1:
					plant(t, db, table, key, corruption{name: "unseal", set: "seal = NULL, size = NULL"})
				case 2:
					plant(t, db, table, key, corruption{name: "version 0", set: "version = 0, seal = " + sealSQL})
				}
				p, err := s.newUpdate(ctx, key, c)
				require.NoError(t, err)
				if k == 0 {
					grouped = append(grouped, p)
				} else {
					alone = append(alone, p)
				}
			}
			twins = append(twins, pair)
		}
		require.True(t, batchable(grouped))
		errsGrouped := make([]error, n)
		// sendBatch, not send: send would hide a failing batch by
		// running each change again alone.
		require.True(t, s.sendBatch(ctx, grouped, errsGrouped), "the batch ran to its commit")
		for i, tw := range twins {
			g, a := grouped[i], alone[i]
			errAlone := s.run(ctx, nil, a)
			require.Equal(t, enginetest.Outcome(errAlone), enginetest.Outcome(errsGrouped[i]), "trial %d change %d", trial, i)
			outcomes.Add(errAlone)
			assert.Equal(t, a.version, g.version, "trial %d change %d", trial, i)
			enginetest.RequireTwins(t, s, tw[1], tw[0], fmt.Sprintf("trial %d change %d", trial, i))
			if errAlone == nil { // it wrote: the row is sealed
				requireSealed(t, s, db, table, tw[0], fmt.Sprintf("trial %d change %d", trial, i))
			}
		}
	}
	assert.Empty(t, outcomes.Missing(), "the random changes reach every outcome")
	assert.Zero(t, s.stats.fallbacks.Load(), "no group fell back")
}

// TestBatchSlots: a group larger than a batch statement's slots goes
// as several batches in its one transaction, and the spare slots of the
// last one (the last key repeated) change nothing more than its own
// Update: every session gets its field and the version after one write.
func TestBatchSlots(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	n := maxSlots + 3
	items := make([]*change, n)
	for i := range items {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "0")))
		p, err := s.newUpdate(ctx, key, set("n", fmt.Sprint(i)))
		require.NoError(t, err)
		items[i] = p
	}
	errs := make([]error, n)
	require.True(t, s.sendBatch(ctx, items, errs))
	for i, p := range items {
		require.NoError(t, errs[i], "change %d", i)
		assert.Equal(t, uint64(2), p.version, "change %d", i)
		requireFields(t, s, p.key, 2, "n", fmt.Sprint(i))
	}
	assert.Equal(t, []int{2, 2, 4, 8, 16, 32, 64, 64}, []int{batchSlots(1), batchSlots(2), batchSlots(3), batchSlots(5), batchSlots(16), batchSlots(17), batchSlots(33), batchSlots(64)})
}

// TestBatchLockOrder: two batches at once over the same sessions, their
// IN lists in opposite orders, never deadlock: the read goes by the
// primary key, whose ranges the server reads, so locks, in key order.
// Every Update lands, each with a version of its own.
func TestBatchLockOrder(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
	}
	slices.Sort(keys)
	for _, key := range keys {
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "0")))
	}
	const rounds = 30
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := range errs {
		wg.Go(func() {
			for r := range rounds {
				items := make([]*change, len(keys))
				chunk := make([]int, len(keys))
				for i, key := range keys {
					p, err := s.newUpdate(ctx, key, set(fmt.Sprint("g", g), fmt.Sprint(r)))
					if err != nil {
						errs[g] = err
						return
					}
					items[i] = p
					chunk[i] = i
					if g == 1 {
						chunk[i] = len(keys) - 1 - i // the IN list in descending order
					}
				}
				if errs[g] = runBatchTx(ctx, s, items, chunk); errs[g] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...), "no batch deadlocked")
	for _, key := range keys {
		requireFields(t, s, key, 1+2*rounds, "n", "0", "g0", fmt.Sprint(rounds-1), "g1", fmt.Sprint(rounds-1))
	}
}

// runBatchTx runs the batch of items[i] for i in chunk, in chunk's order,
// in a transaction of its own, and returns the first error.
func runBatchTx(ctx context.Context, s *Store, items []*change, chunk []int) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	errs := make([]error, len(items))
	alone, err := s.runBatch(ctx, &groupTx{tx: sqlTx, stmts: map[*sql.Stmt]*sql.Stmt{}}, items, chunk, errs)
	if err == nil && len(alone) > 0 {
		err = fmt.Errorf("%d changes left alone", len(alone))
	}
	if err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return sqlTx.Commit()
}

// TestBatchLargeSessions: in a batch, the changes of sessions larger
// than maxBatchSize run their own statements (which send only the fields
// they change), in the batch's transaction, with no fallback to changes
// alone; the small sessions beside them go in the batch. Their sessions
// together pass the server's max_allowed_packet.
func TestBatchLargeSessions(t *testing.T) {
	db := testDB(t)
	var packet int
	require.NoError(t, db.QueryRow("SELECT @@max_allowed_packet").Scan(&packet))
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20)
	n := packet/(1<<20) + 2 // in all, more than a packet holds
	items := make([]*change, n)
	for i := range items {
		key := storetest.NewKey(t)
		value := big
		if i%2 == 0 {
			value = strings.Repeat("y", maxBatchSize-len("big")-1) // the largest a batch writes whole, less a byte
		}
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("big", value)))
		p, err := s.newUpdate(ctx, key, set("n", fmt.Sprint(i)))
		require.NoError(t, err)
		items[i] = p
	}
	errs := make([]error, n)
	require.True(t, s.sendBatch(ctx, items, errs), "the batch ran to its commit")
	for i, p := range items {
		require.NoError(t, errs[i], "change %d", i)
		value := big
		if i%2 == 0 {
			value = strings.Repeat("y", maxBatchSize-len("big")-1)
		}
		requireFields(t, s, p.key, 2, "big", value, "n", fmt.Sprint(i))
		requireSealed(t, s, db, table, p.key, fmt.Sprint("change ", i))
	}
}

// TestBatchFallsBack: a batch write the server refuses (one session's
// version at the largest BIGINT, which the bump overflows) rolls the
// group back, and each change runs again alone: only that one fails,
// and the others land with the versions they get alone.
func TestBatchFallsBack(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	items := make([]*change, 3)
	for i := range items {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "0")))
		if i == 1 {
			plant(t, db, table, key, corruption{name: "last version", set: "version = 9223372036854775807"})
		}
		p, err := s.newUpdate(ctx, key, set("n", "1"))
		require.NoError(t, err)
		items[i] = p
	}
	require.True(t, batchable(items))
	errs := s.send(ctx, items)
	require.Error(t, errs[1])
	for _, i := range []int{0, 2} {
		require.NoError(t, errs[i])
		assert.Equal(t, uint64(2), items[i].version)
		requireFields(t, s, items[i].key, 2, "n", "1")
	}
	assert.Equal(t, uint64(1), s.stats.fallbacks.Load(), "the group fell back once")
}

// TestGroupSmallPool: a group on a pool of one connection, which its
// transaction holds, never waits for another: the batch statements are
// prepared by New, and a statement the group needs that is not prepared
// yet (here the full check of unsealed rows) is prepared on the
// transaction's own connection.
func TestGroupSmallPool(t *testing.T) {
	db := testDB(t)
	db.SetMaxOpenConns(1)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	items := make([]*change, 4)
	for i := range items {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "0")))
		plant(t, db, table, key, corruption{name: "unseal", set: "seal = NULL, size = NULL"})
		p, err := s.newUpdate(ctx, key, set("n", fmt.Sprint(i+1)))
		require.NoError(t, err)
		items[i] = p
	}
	errs := make([]error, len(items))
	require.True(t, s.sendBatch(ctx, items, errs), "the batch ran to its commit")
	require.NoError(t, errors.Join(errs...), "no change waited for a connection")
	for i, p := range items {
		requireFields(t, s, p.key, 2, "n", fmt.Sprint(i+1))
		requireSealed(t, s, db, table, p.key, fmt.Sprint("change ", i))
	}
}
