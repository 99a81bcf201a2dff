package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
)

// envDSN names the variable holding the PostgreSQL connection string the
// tests use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envDSN = "SESSIONGEN_POSTGRES_DSN"

// testConfig returns a pool config for the server in envDSN, skipping the
// test when the variable is unset.
func testConfig(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := enginetest.Env(t, envDSN, "PostgreSQL",
		"a connection string such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err, "parse %s", envDSN)
	return cfg
}

// newPool opens a pool from cfg, fails the test when the server does not
// answer, and closes the pool at the end of the test.
func newPool(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err, "pool")
	t.Cleanup(pool.Close)
	enginetest.RequireAnswer(t, envDSN, "PostgreSQL", pool.Ping(ctx))
	return pool
}

// testPool is newPool on the server in envDSN.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return newPool(t, testConfig(t))
}

// testTables returns the names of fresh tables for this test and the
// WithTables option naming them, and drops them at the test's end
// (through their own pool, so the drop runs even after the test's pools
// are closed).
func testTables(t testing.TB) (sessions, fields string, opt Option) {
	t.Helper()
	prefix := enginetest.UniqueName("sessiongen_test_")
	sessions, fields = prefix+"_sessions", prefix+"_fields"
	admin := testPool(t) // registered first, so closed after the drop below
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := admin.Exec(ctx, "DROP TABLE IF EXISTS "+quoteTable(fields)+", "+quoteTable(sessions))
		if err != nil {
			t.Errorf("drop test tables: %v", err)
		}
	})
	return sessions, fields, WithTables(sessions, fields)
}

// tableOpt is the option of testTables.
func tableOpt(t testing.TB) Option {
	t.Helper()
	_, _, opt := testTables(t)
	return opt
}

// newTestStore returns a Store on pool with the given options, the schema
// created, closed at the end of the test.
func newTestStore(t testing.TB, pool *pgxpool.Pool, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithCreateSchema(true)}, opts...)
	s, err := New(context.Background(), pool, opts...)
	require.NoError(t, err, "New")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// engine returns the shared SQL tests' view of pgstore on pool, with
// fresh tables for this test.
func engine(t *testing.T, pool *pgxpool.Pool) enginetest.SQL {
	t.Helper()
	sessions, fields, tables := testTables(t)
	return enginetest.SQL{
		Engine: "pgstore",
		Open: func(t *testing.T, cleanup time.Duration, clock func() time.Time) enginetest.SQLStore {
			return newTestStore(t, pool, tables, WithCleanupInterval(cleanup), WithClock(clock))
		},
		Rows: func(t *testing.T, key string) (int, int) {
			return rowCounts(t, pool, sessions, fields, key)
		},
		FieldRows: true,
	}
}

// rowCounts returns how many session and field rows key has in the
// tables sessions and fields, read through pool.
func rowCounts(t *testing.T, pool *pgxpool.Pool, sessions, fields, key string) (ns, nf int) {
	t.Helper()
	err := pool.QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM "+quoteTable(sessions)+" WHERE session_key = $1), (SELECT count(*) FROM "+quoteTable(fields)+" WHERE session_key = $1)",
		key).Scan(&ns, &nf)
	require.NoError(t, err)
	return ns, nf
}
