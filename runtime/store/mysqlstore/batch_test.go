package mysqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	names := []string{"a", "b", "c", "dd", "e"}
	value := func() []byte { return []byte(fmt.Sprint(rng.IntN(3))) } // often equal to a stored one
	outcomes := map[string]int{}
	for trial := range 12 {
		const n = 12
		var grouped, alone []*change
		var twins [][2]string
		now := s.now()
		for i := range n {
			rec := store.Record{Created: now, Expires: now.Add(time.Hour), Fields: map[string][]byte{}}
			for _, name := range names {
				if rng.IntN(2) == 0 {
					rec.Fields[name] = value()
				}
			}
			if rng.IntN(2) == 0 {
				rec.Owner = "u" + fmt.Sprint(rng.IntN(3))
			}
			c := store.Change{Set: map[string][]byte{}, Expect: map[string][]byte{}}
			expects := rng.IntN(3) == 0 // else expectations would hide the size limit
			for _, name := range names {
				op := rng.IntN(5)
				if !expects && (op == 2 || op == 3) {
					op = 4
				}
				switch op {
				case 0:
					c.Set[name] = value()
				case 1:
					c.Remove = append(c.Remove, name)
				case 2:
					c.Expect[name] = value()
				case 3:
					c.Expect[name] = nil // absent
				}
				// 4: the field left alone
			}
			if rng.IntN(2) == 0 {
				c.MaxSize = 4 + rng.IntN(12)
			}
			if rng.IntN(2) == 0 {
				c.Expires = now.Add(time.Duration(1+rng.IntN(100)) * time.Minute).Round(time.Microsecond)
			}
			if rng.IntN(3) == 0 {
				o := []string{"", "u1", "u9"}[rng.IntN(3)]
				c.Owner = &o
			}
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
			require.Equal(t, sentinel(errAlone), sentinel(errsGrouped[i]), "trial %d change %d", trial, i)
			outcomes[sentinel(errAlone)]++
			assert.Equal(t, a.version, g.version, "trial %d change %d", trial, i)
			ra, erra := s.Load(ctx, tw[1])
			rg, errg := s.Load(ctx, tw[0])
			require.Equal(t, sentinel(erra), sentinel(errg))
			assert.Equal(t, ra.Fields, rg.Fields, "trial %d change %d", trial, i)
			assert.True(t, ra.Expires.Equal(rg.Expires), "trial %d change %d: %v %v", trial, i, ra.Expires, rg.Expires)
			assert.Equal(t, ra.Owner, rg.Owner, "trial %d change %d", trial, i)
			assert.Equal(t, ra.Version, rg.Version, "trial %d change %d", trial, i)
			if errAlone == nil { // it wrote: the row is sealed
				requireSealed(t, s, db, table, tw[0], fmt.Sprintf("trial %d change %d", trial, i))
			}
		}
	}
	for _, o := range []string{"ok", sentinel(store.ErrNotFound), sentinel(store.ErrConflict), sentinel(store.ErrTooLarge), sentinel(store.ErrCorrupt)} {
		assert.Positive(t, outcomes[o], "the random changes reach the outcome %q", o)
	}
	assert.Zero(t, s.stats.fallbacks.Load(), "no group fell back")
}

// sentinel names the store error err wraps.
func sentinel(err error) string {
	for _, e := range []error{store.ErrNotFound, store.ErrConflict, store.ErrTooLarge, store.ErrCorrupt} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
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

// TestBatchLockOrder: two batches at once over the same sessions, given
// in opposite orders, never deadlock: the server reads an IN list's
// ranges of the primary key, so locks its rows, in key order.
// Every Update lands, each with a version of its own.
func TestBatchLockOrder(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("n", "0")))
	}
	const rounds = 30
	var wg sync.WaitGroup
	ok := make([][]bool, 2)
	for g := range ok {
		ok[g] = make([]bool, rounds)
		wg.Go(func() {
			for r := range rounds {
				items := make([]*change, len(keys))
				for i, key := range keys {
					if g == 1 {
						key = keys[len(keys)-1-i]
					}
					p, err := s.newUpdate(ctx, key, set(fmt.Sprint("g", g), fmt.Sprint(r)))
					if err != nil {
						return
					}
					items[i] = p
				}
				errs := make([]error, len(items))
				ok[g][r] = s.sendBatch(ctx, items, errs) && errors.Join(errs...) == nil
			}
		})
	}
	wg.Wait()
	for g := range ok {
		for r, done := range ok[g] {
			require.True(t, done, "batch %d of goroutine %d committed every change", r, g)
		}
	}
	for _, key := range keys {
		requireFields(t, s, key, 1+2*rounds, "n", "0", "g0", fmt.Sprint(rounds-1), "g1", fmt.Sprint(rounds-1))
	}
}

// TestBatchLargeSessions: sessions whose documents together pass the
// server's max_allowed_packet go in one batch all the same (the driver
// sends a prepared statement's large arguments apart), with no fallback
// to changes alone.
func TestBatchLargeSessions(t *testing.T) {
	db := testDB(t)
	var packet int
	require.NoError(t, db.QueryRow("SELECT @@max_allowed_packet").Scan(&packet))
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20) // 1.33 MiB as base64
	n := packet/(1<<20) + 2           // in all, more than a packet holds
	items := make([]*change, n)
	for i := range items {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("big", big)))
		p, err := s.newUpdate(ctx, key, set("n", fmt.Sprint(i)))
		require.NoError(t, err)
		items[i] = p
	}
	errs := make([]error, n)
	require.True(t, s.sendBatch(ctx, items, errs), "the batch ran to its commit")
	for i, p := range items {
		require.NoError(t, errs[i], "change %d", i)
		requireFields(t, s, p.key, 2, "big", big, "n", fmt.Sprint(i))
	}
}
