package pgstore

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
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

func TestConformance(t *testing.T) {
	conformance(t, testPool(t))
}

// TestConformanceSimpleProtocol runs the suite through the simple query
// protocol (what poolers in transaction mode need): the batch is then one
// multi-statement query, still one implicit transaction.
func TestConformanceSimpleProtocol(t *testing.T) {
	cfg := testConfig(t)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conformance(t, newPool(t, cfg))
}

// conformance runs the storetest suite on pool, every store on the same
// fresh tables.
func conformance(t *testing.T, pool *pgxpool.Pool) {
	tables := tableOpt(t)
	newTestStore(t, pool, tables)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables)
	})
}

func TestTwoNodes(t *testing.T) {
	tables := tableOpt(t)
	a := newTestStore(t, testPool(t), tables)
	b := newTestStore(t, testPool(t), tables)
	storetest.TwoNodes(t, a, b)
}

// TestRoundTrips counts the round trips on the wire: one per operation
// once the connection has prepared the statements, and an Update of one
// small field sends a few hundred bytes even when the session is large.
func TestRoundTrips(t *testing.T) {
	var c enginetest.Counter
	cfg := testConfig(t)
	cfg.ConnConfig.DialFunc = c.Dial()
	cfg.MaxConns = 1
	pool := newPool(t, cfg)
	s := newTestStore(t, pool, tableOpt(t), WithCleanupInterval(0))
	enginetest.RoundTrips(t, s, &c, 64<<10, 1024, 1)
}

func TestCleanup(t *testing.T) {
	enginetest.Cleanup(t, engine(t, testPool(t)))
}

// TestCleanupSparesTakenOver: a session replaced by Create after it
// expired is live again and the cleanup leaves it.
func TestCleanupSparesTakenOver(t *testing.T) {
	enginetest.CleanupSparesTakenOver(t, newTestStore(t, testPool(t), tableOpt(t), WithCleanupInterval(0)))
}

func TestClock(t *testing.T) {
	enginetest.Clock(t, engine(t, testPool(t)))
}

// TestAwkwardKeys: field keys that mean something in SQL, JSON or JSON
// paths round-trip and can be set and removed one by one.
func TestAwkwardKeys(t *testing.T) {
	enginetest.AwkwardKeys(t, newTestStore(t, testPool(t), tableOpt(t)))
}

// TestSetWinsOverRemove: a key both set and removed in one Change is set.
func TestSetWinsOverRemove(t *testing.T) {
	enginetest.SetWinsOverRemove(t, newTestStore(t, testPool(t), tableOpt(t)))
}

// TestContextDeadline: operations blocked by a table lock return when
// their deadline passes, with an error wrapping context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	enginetest.LockedDeadlines(t, "pgstore", s, func() func() error {
		ctx := context.Background()
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) }) // rolled back by the caller
		_, err = tx.Exec(ctx, "LOCK TABLE "+quoteTable(sessions)+" IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		return func() error { return tx.Rollback(ctx) }
	}, append(enginetest.IndexOps(t, s), moveOp(t, s))...)
}

// moveOp is a Move between two fresh keys, for the checks of failing
// operations.
func moveOp(t *testing.T, s store.Store) enginetest.Op {
	return enginetest.Op{Name: "move", Do: func(ctx context.Context) error {
		_, err := s.Move(ctx, storetest.NewKey(t), storetest.NewKey(t), store.Change{Expires: time.Now().Add(time.Hour)})
		return err
	}}
}

// TestOutage cuts the connection to the server mid-run: every operation
// fails with a wrapped error naming the engine and the operation, and
// once the server is back the same Store works again.
func TestOutage(t *testing.T) {
	cfg := testConfig(t)
	network, target := "tcp", fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		network, target = "unix", filepath.Join(cfg.ConnConfig.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.ConnConfig.Port))
	}
	p := enginetest.NewProxy(t, network, target)
	host, port, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	cfg.ConnConfig.Host = host
	_, err = fmt.Sscan(port, &cfg.ConnConfig.Port)
	require.NoError(t, err)
	cfg.ConnConfig.Fallbacks = nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	s := newTestStore(t, newPool(t, cfg), tableOpt(t), WithCleanupInterval(0))
	enginetest.Outage(t, "pgstore", s, p, 0, append(enginetest.IndexOps(t, s), enginetest.CleanupOp(s), moveOp(t, s))...)
}

func TestUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(enginetest.FreePort(t))
	cfg.ConnConfig.Fallbacks = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // lazy: connects on first use
	require.NoError(t, err)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = New(ctx, pool)
	require.ErrorContains(t, err, "pgstore: check schema")
	_, err = New(ctx, pool, WithCreateSchema(true))
	require.ErrorContains(t, err, "pgstore: create schema")
}

func TestNewValidates(t *testing.T) {
	_, err := New(context.Background(), nil)
	require.ErrorContains(t, err, "pgstore: new: nil pool")

	pool := testPool(t)
	_, err = New(context.Background(), pool, WithTables("", "x"))
	require.ErrorContains(t, err, "empty table name")
	_, err = New(context.Background(), pool, WithTables("a..b", "x"))
	require.ErrorContains(t, err, "invalid table name")

	// Without WithCreateSchema, missing tables are reported with a hint.
	_, err = New(context.Background(), pool, WithTables("sessiongen_missing_sessions", "sessiongen_missing_fields"))
	require.ErrorContains(t, err, "pgstore.Schema")
}

func TestBadInput(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t))
	enginetest.SQLBadInput(t, "pgstore", s)
	// A key the database cannot hold is an error, not a panic.
	require.ErrorContains(t, s.Create(context.Background(), "nul\x00key", enginetest.LiveRecord()), "pgstore: create")

	// The refusals wrap store.ErrInvalid, Move's included.
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	_, err := s.Load(ctx, "")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Version(ctx, "")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Update(ctx, "k", store.Change{Set: map[string][]byte{"": nil}})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.ErrorIs(t, s.Delete(ctx, ""), store.ErrInvalid)
	for name, c := range map[string]store.Change{
		"empty field key":                     {Expires: exp, Set: map[string][]byte{"": nil}},
		"invalid store request: owner longer": {Expires: exp, Owner: ptr(strings.Repeat("o", MaxOwnerLen+1))},
	} {
		_, err = s.Move(ctx, "a", "b", c)
		require.ErrorIs(t, err, store.ErrInvalid, name)
		require.ErrorContains(t, err, "pgstore: move: "+name, name)
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// TestMigration: the DDL from Schema, run by hand, is what New needs; the
// tables may be schema-qualified and mixed-case.
func TestMigration(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	suffix := strings.ToUpper(storetest.NewKey(t)[:8])
	sessions, fields := "public.Mig_"+suffix+"_Sessions", "public.Mig_"+suffix+"_Fields"
	tables := WithTables(sessions, fields)
	t.Cleanup(func() {
		_, err := testPool(t).Exec(context.Background(), "DROP TABLE IF EXISTS "+quoteTable(fields)+", "+quoteTable(sessions))
		assert.NoError(t, err)
	})
	_, err := New(ctx, pool, tables)
	require.ErrorContains(t, err, "pgstore.Schema", "before the migration")
	_, err = pool.Exec(ctx, Schema(tables))
	require.NoError(t, err, "migration")
	s := newTestStore(t, pool, tables)
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM public."Mig_`+suffix+`_Fields"`).Scan(&n))
	assert.Equal(t, 1, n, "field rows in the mixed-case table")
}

// TestUpdateAfterWaiting: an Update that waited for another transaction's
// lock on the session sees the field rows that transaction wrote. (A single
// statement that waited for the lock itself would delete with its older
// snapshot and miss them; see the lock statement in queries.go.)
// It runs with the extended protocol (a pipeline) and the simple one (a
// multi-statement query).
func TestUpdateAfterWaiting(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			updateAfterWaiting(t, newPool(t, cfg))
		})
	}
}

// updateAfterWaiting is TestUpdateAfterWaiting on one pool.
func updateAfterWaiting(t *testing.T, pool *pgxpool.Pool) {
	sessions, fields, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	// Another writer holds the session and adds field x.
	lock := func(key string) func() error {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) }) // committed by the caller
		_, err = tx.Exec(ctx, "SELECT 1 FROM "+quoteTable(sessions)+" WHERE session_key = $1 FOR UPDATE", key)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "INSERT INTO "+quoteTable(fields)+" (session_key, name, value) VALUES ($1, 'x', 'X')", key)
		require.NoError(t, err)
		return func() error { return tx.Commit(ctx) }
	}
	waiting := func() bool {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%'",
			quoteTable(sessions)).Scan(&n)
		return err == nil && n > 0
	}
	enginetest.UpdateAfterWaiting(t, s, lock, waiting, 5*time.Millisecond)
}
