package mysqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestConditionRoundTrips counts the round trips of the new operations
// once the connection has prepared their statements: a conditional Update
// costs one, like any Update, and one more only when refused (the read
// that tells why); a Move costs five (START TRANSACTION, SELECT ... FOR
// UPDATE, INSERT, DELETE, COMMIT).
func TestConditionRoundTrips(t *testing.T) {
	var counter enginetest.Counter
	cfg := testConfig(t)
	cfg.DialFunc = counter.Dial()
	db := newDB(t, cfg)
	db.SetMaxOpenConns(1)
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	one := map[string][]byte{"a": []byte("1")}
	cas := store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}, MaxSize: 100}
	// Warm up: prepare every statement on the one connection.
	warm := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, warm, store.Record{Fields: one, Created: time.Now(), Expires: exp}))
	_, err := s.Update(ctx, warm, cas)
	require.NoError(t, err)
	_, err = s.Load(ctx, warm)
	require.NoError(t, err)
	_, err = s.Move(ctx, warm, storetest.NewKey(t), store.Change{Expires: exp})
	require.NoError(t, err)

	trips := func(what string, want int, f func() error) {
		t.Helper()
		counter.Reset()
		require.NoError(t, f(), what)
		got, _ := counter.Get()
		assert.Equal(t, want, got, "round trips of %s", what)
	}
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Fields: one, Created: time.Now(), Expires: exp}))
	trips("an Update whose conditions hold", 1, func() error {
		_, err := s.Update(ctx, key, cas)
		return err
	})
	trips("an Update whose expectation fails", 2, func() error {
		_, err := s.Update(ctx, key, cas)
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return err
	})
	to := storetest.NewKey(t)
	trips("a Move", 5, func() error {
		_, err := s.Move(ctx, key, to, store.Change{Expires: exp})
		return err
	})
}

// TestMoveRefusedKeepsExpiredTarget: a Move refused after it took over an
// expired row under the new key (the check comes after the INSERT, so a
// live row there is reported first) rolls the takeover back.
func TestMoveRefusedKeepsExpiredTarget(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	now := time.Now()
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0), WithClock(func() time.Time { return now }))
	ctx := context.Background()
	from, to := storetest.NewKey(t), storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, from, store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: now, Expires: now.Add(time.Hour)}))
	require.NoError(t, s.Create(ctx, to, store.Record{Fields: map[string][]byte{"old": []byte("x")}, Created: now, Expires: now.Add(time.Millisecond)}))
	before := rawRow(t, db, table, to)
	s2 := newTestStore(t, db, opt, WithCleanupInterval(0), WithClock(func() time.Time { return now.Add(time.Second) }))
	_, err := s2.Move(ctx, from, to, store.Change{Expires: now.Add(time.Hour), Expect: map[string][]byte{"a": []byte("2")}})
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Equal(t, before, rawRow(t, db, table, to), "the expired row under the new key")
	_, err = s2.Move(ctx, from, to, store.Change{Expires: now.Add(time.Hour), Set: map[string][]byte{"big": make([]byte, 100)}, MaxSize: 50})
	require.ErrorIs(t, err, store.ErrTooLarge)
	assert.Equal(t, before, rawRow(t, db, table, to), "the expired row under the new key")
	got, err := s2.Load(ctx, from)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.Version)
}

// TestMoveSwapRetriesDeadlocks: two Moves swapping two live sessions lock
// one row each and then want the other's, a deadlock the server breaks
// by aborting one; Move runs an aborted transaction again, so both report
// ErrExists, never the deadlock, and neither session changes.
func TestMoveSwapRetriesDeadlocks(t *testing.T) {
	db := testDB(t)
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	deadlocks := func() int64 {
		var name string
		var n int64
		require.NoError(t, db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").Scan(&name, &n))
		return n
	}
	start := deadlocks()
	for range 30 {
		a, b := storetest.NewKey(t), storetest.NewKey(t)
		recA, recB := enginetest.LiveRecord("k", "a"), enginetest.LiveRecord("k", "b")
		require.NoError(t, s.Create(ctx, a, recA))
		require.NoError(t, s.Create(ctx, b, recB))
		var wg sync.WaitGroup
		var errs [2]error
		go1 := make(chan struct{})
		for i, pair := range [][2]string{{a, b}, {b, a}} {
			wg.Go(func() {
				<-go1
				_, errs[i] = s.Move(ctx, pair[0], pair[1], store.Change{Expires: time.Now().Add(time.Hour)})
			})
		}
		close(go1)
		wg.Wait()
		for _, err := range errs {
			require.ErrorIs(t, err, store.ErrExists)
		}
		got, err := s.Load(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, "a", string(got.Fields["k"]))
		got, err = s.Load(ctx, b)
		require.NoError(t, err)
		assert.Equal(t, "b", string(got.Fields["k"]))
	}
	t.Logf("%d deadlocks broken by the server and retried", deadlocks()-start)
}
