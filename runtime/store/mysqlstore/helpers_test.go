package mysqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
)

// envDSN names the variable holding the MariaDB/MySQL DSN the tests use,
// e.g. root@tcp(127.0.0.1:3306)/test.
const envDSN = "SESSIONGEN_MYSQL_DSN"

// testConfig returns the driver config for the server in envDSN, skipping
// the test when the variable is unset.
func testConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := enginetest.Env(t, envDSN, "MariaDB/MySQL", "a DSN such as root@tcp(127.0.0.1:3306)/test")
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err, "parse %s", envDSN)
	return cfg
}

// newDB opens a db from cfg, fails the test when the server does not
// answer, and closes the db at the end of the test.
func newDB(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	conn, err := mysql.NewConnector(cfg)
	require.NoError(t, err, "connector")
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	enginetest.RequireAnswer(t, envDSN, "MariaDB/MySQL", db.PingContext(ctx))
	return db
}

// testDB is newDB on the server in envDSN.
func testDB(t testing.TB) *sql.DB {
	t.Helper()
	return newDB(t, testConfig(t))
}

// testTable returns the name of a fresh table for this test and the
// WithTable option naming it, and drops it at the test's end (through its
// own db, so the drop runs even after the test's dbs are closed).
func testTable(t testing.TB) (string, Option) {
	t.Helper()
	table := enginetest.UniqueName("sessiongen_test_")
	admin := testDB(t) // registered first, so closed after the drop below
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteTable(table)); err != nil {
			t.Errorf("drop test table: %v", err)
		}
	})
	return table, WithTable(table)
}

// tableOpt is the option of testTable.
func tableOpt(t testing.TB) Option {
	t.Helper()
	_, opt := testTable(t)
	return opt
}

// newTestStore returns a Store on db with the given options, closed at the
// end of the test.
func newTestStore(t testing.TB, db *sql.DB, opts ...Option) *Store {
	t.Helper()
	s, err := New(context.Background(), db, opts...)
	require.NoError(t, err, "New")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// engine returns the shared SQL tests' view of mysqlstore on db, with a
// fresh table for this test.
func engine(t *testing.T, db *sql.DB) enginetest.SQL {
	t.Helper()
	table, opt := testTable(t)
	return enginetest.SQL{
		Engine: "mysqlstore",
		Open: func(t *testing.T, cleanup time.Duration, clock func() time.Time) enginetest.SQLStore {
			return newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(cleanup), WithClock(clock))
		},
		Rows: func(t *testing.T, key string) (int, int) {
			return rowCount(t, db, table, key), 0
		},
	}
}

// rowCount returns how many rows key has in table, expired or not.
func rowCount(t *testing.T, db *sql.DB, table, key string) int {
	t.Helper()
	var n int
	err := db.QueryRow("SELECT count(*) FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&n)
	require.NoError(t, err)
	return n
}
