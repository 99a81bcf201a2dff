package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestConditionsAgreeWithCheck: the conditions checked in SQL give the
// same verdict as store.Change.Check on the fields Load returned, over
// many random changes (sets, removes, both at once, expectations of
// bytes, of empty values and of absence, limits around the session's
// size), through Update and Move, under both query protocols. After each
// accepted change the stored fields are Change.Apply of the fields
// before.
func TestConditionsAgreeWithCheck(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			s := newTestStore(t, newPool(t, cfg), tableOpt(t), WithCleanupInterval(0))
			conditionsAgree(t, s, rand.New(rand.NewPCG(1, 2)), 300)
		})
	}
}

// conditionsAgree runs rounds random changes on one session of s.
func conditionsAgree(t *testing.T, s *Store, r *rand.Rand, rounds int) {
	ctx := context.Background()
	names := []string{"a", "b", "cc", "ddd", "ключ"}
	value := func() []byte {
		v := make([]byte, r.IntN(6)) // empty values too
		for i := range v {
			v[i] = byte('0' + r.IntN(3))
		}
		return v
	}
	key := storetest.NewKey(t)
	rec := enginetest.LiveRecord()
	for _, n := range names[:3] {
		rec.Fields[n] = value()
	}
	require.NoError(t, s.Create(ctx, key, rec))
	outcomes := map[string]int{}
	for round := range rounds {
		before, err := s.Load(ctx, key)
		require.NoError(t, err)
		var c store.Change
		for _, n := range names {
			switch r.IntN(6) {
			case 0:
				c.Set = setField(c.Set, n, value())
			case 1:
				c.Remove = append(c.Remove, n)
			case 2: // both: Set wins
				c.Set = setField(c.Set, n, value())
				c.Remove = append(c.Remove, n)
			}
			switch r.IntN(16) {
			case 0: // holds, or wants absence
				c.Expect = setField(c.Expect, n, before.Fields[n])
			case 1: // the bytes may differ
				c.Expect = setField(c.Expect, n, value())
			case 2: // absent, given as empty rather than nil
				c.Expect = setField(c.Expect, n, []byte{})
			}
		}
		if r.IntN(4) > 0 {
			c.MaxSize = max(0, store.Size(before.Fields)+r.IntN(13)-6)
		}
		want := c.Check(before.Fields)
		what := fmt.Sprintf("round %d: %+v on %q", round, c, before.Fields)
		if r.IntN(4) == 0 {
			to := storetest.NewKey(t)
			c.Expires = time.Now().Add(time.Hour)
			_, err = s.Move(ctx, key, to, c)
			if err == nil {
				key = to
			}
		} else {
			_, err = s.Update(ctx, key, c)
		}
		switch {
		case want == nil:
			require.NoError(t, err, what)
			outcomes["applied"]++
		case errors.Is(want, store.ErrConflict):
			require.ErrorIs(t, err, store.ErrConflict, what)
			outcomes["conflict"]++
		default:
			require.ErrorIs(t, err, store.ErrTooLarge, what)
			outcomes["too large"]++
		}
		after, err := s.Load(ctx, key)
		require.NoError(t, err)
		if want == nil {
			require.Equal(t, asText(c.Apply(before.Fields)), asText(after.Fields), what)
		} else {
			require.Equal(t, asText(before.Fields), asText(after.Fields), what)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	for _, o := range []string{"applied", "conflict", "too large"} {
		require.Greaterf(t, outcomes[o], rounds/20, "rounds with outcome %s", o)
	}
}

// setField returns m (made when nil) with k set to v.
func setField(m map[string][]byte, k string, v []byte) map[string][]byte {
	if m == nil {
		m = make(map[string][]byte)
	}
	m[k] = v
	return m
}

// asText turns fields into strings, so that nil and empty values compare
// equal and failures print readably.
func asText(m map[string][]byte) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// TestConditionsRoundTrips: conditional Updates and Moves, accepted or
// refused, cost one round trip each once the connection has prepared
// the statements.
func TestConditionsRoundTrips(t *testing.T) {
	var counter enginetest.Counter
	cfg := testConfig(t)
	cfg.ConnConfig.DialFunc = counter.Dial()
	cfg.MaxConns = 1
	s := newTestStore(t, newPool(t, cfg), tableOpt(t), WithCleanupInterval(0))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "1")))
	// Warm up: the connection prepares the statements.
	_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"n": []byte("2")}, Expect: map[string][]byte{"n": []byte("1")}, MaxSize: 100})
	require.NoError(t, err)
	warm := storetest.NewKey(t)
	_, err = s.Move(ctx, key, warm, store.Change{Expires: exp})
	require.NoError(t, err)
	key = warm

	measure := func(what string, want error, f func() error) {
		t.Helper()
		counter.Reset()
		err := f()
		if want == nil {
			require.NoError(t, err, what)
		} else {
			require.ErrorIs(t, err, want, what)
		}
		trips, _ := counter.Get()
		require.Equal(t, 1, trips, "round trips of %s", what)
	}
	update := func(c store.Change) func() error {
		return func() error { _, err := s.Update(ctx, key, c); return err }
	}
	move := func(to string, c store.Change) func() error {
		return func() error {
			c.Expires = exp
			_, err := s.Move(ctx, key, to, c)
			if err == nil {
				key = to
			}
			return err
		}
	}
	measure("Update with conditions", nil, update(store.Change{Set: map[string][]byte{"n": []byte("3")}, Expect: map[string][]byte{"n": []byte("2")}, MaxSize: 100}))
	measure("Update refused by an expectation", store.ErrConflict, update(store.Change{Set: map[string][]byte{"n": []byte("4")}, Expect: map[string][]byte{"n": []byte("2")}}))
	measure("Update refused by the limit", store.ErrTooLarge, update(store.Change{Set: map[string][]byte{"big": make([]byte, 100)}, MaxSize: 100}))
	live := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, live, enginetest.LiveRecord()))
	measure("Move to a live key", store.ErrExists, move(live, store.Change{}))
	measure("Move refused by an expectation", store.ErrConflict, move(storetest.NewKey(t), store.Change{Expect: map[string][]byte{"n": nil}}))
	measure("Move with conditions", nil, move(storetest.NewKey(t), store.Change{Set: map[string][]byte{"n": []byte("4")}, Expect: map[string][]byte{"n": []byte("3")}, MaxSize: 100}))
	measure("Move of a missing session", store.ErrNotFound, func() error {
		_, err := s.Move(ctx, storetest.NewKey(t), storetest.NewKey(t), store.Change{Expires: exp})
		return err
	})
}
