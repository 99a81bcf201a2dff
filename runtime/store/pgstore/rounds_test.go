package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestUpdatesAgreeWithUpdate: the statement that applies a round's
// Updates together gives each change the outcome, the fields, the
// expiry, the owner and the version that the statement for one Update
// gives it alone. Random changes (sets, removals, expectations that
// hold or not, size limits that pass or not, new expiries and owners)
// run on twin sessions: grouped on one twin, alone on the other. Under
// both query protocols, which encode the arrays differently.
func TestUpdatesAgreeWithUpdate(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			testUpdatesAgree(t, newTestStore(t, newPool(t, cfg), tableOpt(t), WithCleanupInterval(0)))
		})
	}
}

// testUpdatesAgree is TestUpdatesAgreeWithUpdate on s.
func testUpdatesAgree(t *testing.T, s *Store) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed) // a failure's changes come again from its seed
	rng := rand.New(rand.NewPCG(1, seed))
	outcomes := enginetest.NewOutcomes(nil, store.ErrNotFound, store.ErrConflict, store.ErrTooLarge)
	for trial := 0; outcomes.Trials(trial, 12, 200); trial++ {
		const n = 12
		var grouped, alone []*write
		var twins [][2]string
		now := s.now()
		for i := range n {
			rec, c := enginetest.RandomUpdate(rng, now)
			pair := [2]string{storetest.NewKey(t), storetest.NewKey(t)}
			missing := i == 0 // one change of each group finds no session
			for k, key := range pair {
				if !missing {
					require.NoError(t, s.Create(ctx, key, rec))
				}
				w, err := newUpdate(key, c, now)
				require.NoError(t, err)
				if k == 0 {
					grouped = append(grouped, w)
				} else {
					alone = append(alone, w)
				}
			}
			twins = append(twins, pair)
		}
		sorted := slices.Clone(grouped)
		slices.SortFunc(sorted, func(a, b *write) int { return strings.Compare(a.key, b.key) })
		require.Equal(t, []round{{updates: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}}, splitRounds(sorted), "one round of one statement")
		// exchange, not send: send would hide a failing statement by
		// sending each change again alone.
		errsSorted, err := s.exchange(ctx, sorted)
		require.NoError(t, err, "the grouped statement")
		for i, tw := range twins {
			g, a := grouped[i], alone[i]
			errAlone := s.sendAlone(ctx, a)
			errGrouped := errsSorted[slices.Index(sorted, g)]
			require.Equal(t, enginetest.Outcome(errAlone), enginetest.Outcome(errGrouped), "trial %d change %d", trial, i)
			outcomes.Add(errAlone)
			assert.Equal(t, a.version, g.version, "trial %d change %d", trial, i)
			enginetest.RequireTwins(t, s, tw[1], tw[0], fmt.Sprintf("trial %d change %d", trial, i))
		}
	}
	assert.Empty(t, outcomes.Missing(), "the random changes reach every outcome")
}

// TestGroupRounds: a group with several Updates of each of two sessions
// goes in rounds, each a statement for both sessions, and each Update
// sees the ones before it (its expectation holds only on their result);
// a Create after an Update of its key sends the group write by write.
func TestGroupRounds(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t), WithCleanupInterval(0))
	ctx := context.Background()
	keys := sortedKeys(t, 2)
	for _, k := range keys {
		require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("n", "0")))
	}
	now := s.now()
	var ws []*write
	for step := range 3 {
		for _, k := range keys {
			c := set("n", fmt.Sprint(step+1))
			c.Expect = map[string][]byte{"n": []byte(fmt.Sprint(step))}
			w, err := newUpdate(k, c, now)
			require.NoError(t, err)
			ws = append(ws, w)
		}
	}
	stale, err := newUpdate(keys[0], store.Change{Set: map[string][]byte{"x": []byte("1")}, Expect: map[string][]byte{"n": []byte("1")}}, now)
	require.NoError(t, err)
	ws = append(ws, stale) // round 3: its expectation no longer holds
	sorted := slices.Clone(ws)
	slices.SortStableFunc(sorted, func(a, b *write) int { return strings.Compare(a.key, b.key) })
	rounds := splitRounds(sorted)
	require.Len(t, rounds, 4)
	require.False(t, lateCreate(rounds))
	outcomes, err := s.exchange(ctx, sorted)
	require.NoError(t, err)
	for i, w := range sorted {
		if w == stale {
			require.ErrorIs(t, outcomes[i], store.ErrConflict)
			continue
		}
		require.NoError(t, outcomes[i], "write %d", i)
	}
	for _, k := range keys {
		got, err := s.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"n": "3"}, asText(got.Fields))
		assert.Equal(t, uint64(4), got.Version)
	}

	fresh := storetest.NewKey(t)
	early, err := newUpdate(fresh, set("a", "1"), now)
	require.NoError(t, err)
	create, err := newCreate(fresh, enginetest.LiveRecord("b", "2"), now)
	require.NoError(t, err)
	other, err := newUpdate(keys[0], set("n", "4"), now)
	require.NoError(t, err)
	errs := s.send(ctx, []*write{early, create, other})
	require.ErrorIs(t, errs[0], store.ErrNotFound, "before its Create")
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
}
