package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestMoveAfterWaiting: a Move blocked by another transaction's lock on
// a row it touches acts on what that transaction committed. (A single
// statement that waited for the lock itself would read with its older
// snapshot; see moveLock in queries.go.) Under both query protocols:
//
//   - a writer of the old session adds field x: x is moved;
//   - a writer of an expired session under the new key adds field y:
//     the Move takes that session over without y;
//   - a Delete of the old session: the Move fails with ErrNotFound and
//     writes nothing.
func TestMoveAfterWaiting(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			moveAfterWaiting(t, newPool(t, cfg))
		})
	}
}

// moveAfterWaiting is TestMoveAfterWaiting on one pool.
func moveAfterWaiting(t *testing.T, pool *pgxpool.Pool) {
	sessions, fields, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	// hold runs stmt on key in a transaction holding key's row lock and
	// returns the function committing it.
	hold := func(key, stmt string) func() error {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) }) // committed by the caller
		_, err = tx.Exec(ctx, "SELECT 1 FROM "+quoteTable(sessions)+" WHERE session_key = $1 FOR UPDATE", key)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, stmt, key)
		require.NoError(t, err)
		return func() error { return tx.Commit(ctx) }
	}
	// moveBlocked starts Move(from, to), waits until it is blocked on a
	// lock, commits, and returns what Move returned.
	moveBlocked := func(from, to string, commit func() error) (store.Record, error) {
		type result struct {
			rec store.Record
			err error
		}
		done := make(chan result, 1)
		go func() {
			rec, err := s.Move(ctx, from, to, store.Change{Set: map[string][]byte{"m": []byte("M")}, Expires: exp})
			done <- result{rec, err}
		}()
		require.Eventually(t, func() bool {
			var n int
			err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%'",
				quoteTable(sessions)).Scan(&n)
			return err == nil && n > 0
		}, 10*time.Second, 5*time.Millisecond, "Move waits for the lock")
		require.NoError(t, commit())
		r := <-done
		return r.rec, r.err
	}
	insertField := "INSERT INTO " + quoteTable(fields) + " (session_key, name, value) VALUES ($1, '%s', '\\x58')"

	t.Run("OldSessionWritten", func(t *testing.T) {
		from, to := storetest.NewKey(t), storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, from, enginetest.LiveRecord("a", "1")))
		got, err := moveBlocked(from, to, hold(from, fmt.Sprintf(insertField, "x")))
		require.NoError(t, err)
		want := map[string][]byte{"a": []byte("1"), "x": []byte("X"), "m": []byte("M")}
		assert.Equal(t, want, got.Fields)
		loaded, err := s.Load(ctx, to)
		require.NoError(t, err)
		assert.Equal(t, want, loaded.Fields)
	})
	t.Run("ExpiredNewKeyWritten", func(t *testing.T) {
		from, to := storetest.NewKey(t), storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, from, enginetest.LiveRecord("a", "1")))
		require.NoError(t, s.Create(ctx, to, enginetest.ExpiredRecord()))
		got, err := moveBlocked(from, to, hold(to, fmt.Sprintf(insertField, "y")))
		require.NoError(t, err)
		want := map[string][]byte{"a": []byte("1"), "m": []byte("M")}
		assert.Equal(t, want, got.Fields)
		loaded, err := s.Load(ctx, to)
		require.NoError(t, err)
		assert.Equal(t, want, loaded.Fields)
		_, nf := rowCounts(t, pool, sessions, fields, to)
		assert.Equal(t, 2, nf, "field rows under the new key")
	})
	t.Run("OldSessionDeleted", func(t *testing.T) {
		from, to := storetest.NewKey(t), storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, from, enginetest.LiveRecord("a", "1")))
		_, err := moveBlocked(from, to, hold(from, "DELETE FROM "+quoteTable(sessions)+" WHERE session_key = $1"))
		require.ErrorIs(t, err, store.ErrNotFound)
		ns, nf := rowCounts(t, pool, sessions, fields, to)
		assert.Equal(t, [2]int{0, 0}, [2]int{ns, nf}, "rows under the new key")
	})
}

// TestMoveWritesNothingRefused: a Move refused for any reason leaves the
// rows of both keys exactly as they were (checked in the tables, not
// through the store).
func TestMoveWritesNothingRefused(t *testing.T) {
	pool := testPool(t)
	sessions, fields, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	from, live, expired := storetest.NewKey(t), storetest.NewKey(t), storetest.NewKey(t)
	rec := enginetest.LiveRecord("a", "1", "b", "2")
	rec.Owner = "refused-owner"
	require.NoError(t, s.Create(ctx, from, rec))
	require.NoError(t, s.Create(ctx, live, enginetest.LiveRecord("z", "1")))
	require.NoError(t, s.Create(ctx, expired, enginetest.ExpiredRecord()))
	snapshot := func() [3]string {
		return [3]string{rowText(t, pool, sessions, fields, from), rowText(t, pool, sessions, fields, live), rowText(t, pool, sessions, fields, expired)}
	}
	before := snapshot()
	other := "other-owner"
	for _, c := range []struct {
		to   string
		c    store.Change
		want error
	}{
		{live, store.Change{Expires: exp}, store.ErrExists},
		{live, store.Change{Expires: exp, Expect: map[string][]byte{"a": []byte("9")}}, store.ErrExists},
		{expired, store.Change{Expires: exp, Owner: &other, Remove: []string{"a"}, Expect: map[string][]byte{"b": nil}}, store.ErrConflict},
		{expired, store.Change{Expires: exp, Set: map[string][]byte{"c": []byte("123")}, MaxSize: 4}, store.ErrTooLarge},
	} {
		_, err := s.Move(ctx, from, c.to, c.c)
		require.ErrorIs(t, err, c.want)
		assert.Equal(t, before, snapshot(), "rows after a Move refused with %v", c.want)
	}
}
