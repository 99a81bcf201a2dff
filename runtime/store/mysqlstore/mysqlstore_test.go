package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

func TestConformance(t *testing.T) {
	conformance(t, testDB(t))
}

// TestConformanceClientFoundRows runs the suite on connections with
// clientFoundRows=true, where an unchanged row counts as affected.
func TestConformanceClientFoundRows(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClientFoundRows = true
	conformance(t, newDB(t, cfg))
}

// conformance runs the storetest suite on db, every store on the same
// fresh table.
func conformance(t *testing.T, db *sql.DB) {
	table := tableOpt(t)
	newTestStore(t, db, table, WithCreateSchema(true))
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, db, table)
	})
}

func TestTwoNodes(t *testing.T) {
	table := tableOpt(t)
	a := newTestStore(t, testDB(t), table, WithCreateSchema(true))
	b := newTestStore(t, testDB(t), table, WithCreateSchema(true))
	storetest.TwoNodes(t, a, b)
}

// missingUpdateTrips is what an Update of a missing session costs: the
// sealed statement, then the read that finds no row (see runUpdate).
const missingUpdateTrips = 2

// TestRoundTrips counts the round trips on the wire: one per operation
// once the connection has prepared the statements (two for an Update of
// a missing session), and an Update of one small field sends a few
// hundred bytes even when the session is large.
func TestRoundTrips(t *testing.T) {
	var c enginetest.Counter
	cfg := testConfig(t)
	cfg.DialFunc = c.Dial()
	db := newDB(t, cfg)
	db.SetMaxOpenConns(1)
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	enginetest.RoundTrips(t, s, &c, 48<<10, 512, missingUpdateTrips)
}

func TestCleanup(t *testing.T) {
	enginetest.Cleanup(t, engine(t, testDB(t)))
}

// TestCleanupSparesTakenOver: a session replaced by Create after it
// expired is live again and the cleanup leaves it.
func TestCleanupSparesTakenOver(t *testing.T) {
	enginetest.CleanupSparesTakenOver(t, newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0)))
}

func TestClock(t *testing.T) {
	enginetest.Clock(t, engine(t, testDB(t)))
}

// TestAwkwardKeys: field keys that mean something in JSON paths, JSON
// text or SQL round-trip and can be set and removed one by one.
func TestAwkwardKeys(t *testing.T) {
	enginetest.AwkwardKeys(t, newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true)))
}

// TestSetWinsOverRemove: a key both set and removed in one Change is set.
func TestSetWinsOverRemove(t *testing.T) {
	enginetest.SetWinsOverRemove(t, newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true)))
}

// TestLayout checks the stored document: ASCII only, base64 names and
// values, and an Update that sets an equal value still counts as found.
func TestLayout(t *testing.T) {
	table, opt := testTable(t)
	s := newTestStore(t, testDB(t), opt, WithCreateSchema(true))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("ключ 🍪", "значение")))
	var data string
	var version int64
	require.NoError(t, s.db.QueryRow("SELECT data, version FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&data, &version))
	assert.NotContains(t, data, "ключ")
	for _, r := range data {
		require.Less(t, r, rune(0x80), "non-ASCII in %q", data)
	}
	// Writing the same value again changes no data but is still a hit.
	got, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"ключ 🍪": []byte("значение")}})
	require.NoError(t, err)
	var version2 int64
	require.NoError(t, s.db.QueryRow("SELECT version FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&version2))
	assert.Equal(t, version+1, version2)
	assert.Equal(t, uint64(version2), got, "Update reports the stored version")
}

// TestCorruptData: a document the store did not write is an error, not a
// panic.
func TestCorruptData(t *testing.T) {
	table, opt := testTable(t)
	s := newTestStore(t, testDB(t), opt, WithCreateSchema(true))
	ctx := context.Background()
	for _, doc := range []string{`{"!!": "AA=="}`, `{"YQ": "%%"}`, `[1]`} {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord()))
		_, err := s.db.Exec("UPDATE "+quoteTable(table)+" SET data = ? WHERE session_key = ?", doc, key)
		require.NoError(t, err)
		_, err = s.Load(ctx, key)
		require.ErrorContains(t, err, "mysqlstore: load: corrupt", doc)
	}
}

// TestUpdateAfterWaiting: an Update that waited for another transaction's
// row lock patches the document that transaction wrote.
func TestUpdateAfterWaiting(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	lock := func(key string) func() error {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback() }) // committed by the caller
		_, err = tx.Exec("UPDATE "+quoteTable(table)+" SET data = JSON_SET(data, ?, ?) WHERE session_key = ?",
			fieldPath("x"), encodeValue([]byte("X")), key)
		require.NoError(t, err)
		return tx.Commit
	}
	waiting := func() bool {
		var n int
		err := db.QueryRow("SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'").Scan(&n)
		return err == nil && n > 0
	}
	// InnoDB refreshes innodb_trx at most every 100ms.
	enginetest.UpdateAfterWaiting(t, s, lock, waiting, 150*time.Millisecond)
}

// TestContextDeadline: operations blocked by a table lock return when
// their deadline passes, with an error wrapping context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	enginetest.LockedDeadlines(t, "mysqlstore", s, func() func() error {
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = conn.ExecContext(ctx, "LOCK TABLES "+quoteTable(table)+" WRITE")
		require.NoError(t, err)
		return func() error {
			_, err := conn.ExecContext(ctx, "UNLOCK TABLES")
			return err
		}
	}, enginetest.IndexOps(t, s)...)
}

// TestOutage cuts the connection to the server mid-run: every operation
// fails with a wrapped error naming the engine and the operation, and
// once the server is back the same Store works again.
func TestOutage(t *testing.T) {
	cfg := testConfig(t)
	network := cfg.Net
	if network == "" {
		network = "tcp"
	}
	p := enginetest.NewProxy(t, network, cfg.Addr)
	cfg.Net, cfg.Addr = "tcp", p.Addr()
	cfg.Timeout = 2 * time.Second
	cfg.Logger = &mysql.NopLogger{} // the driver logs the cut connections
	s := newTestStore(t, newDB(t, cfg), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	enginetest.Outage(t, "mysqlstore", s, p, 0, append(enginetest.IndexOps(t, s), enginetest.CleanupOp(s))...)
}

func TestUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Net, cfg.Addr = "tcp", "127.0.0.1:"+strconv.Itoa(enginetest.FreePort(t))
	cfg.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(conn) // lazy: connects on first use
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = New(ctx, db)
	require.ErrorContains(t, err, "mysqlstore: check schema")
	_, err = New(ctx, db, WithCreateSchema(true))
	require.ErrorContains(t, err, "mysqlstore: create schema")
}

func TestNewValidates(t *testing.T) {
	_, err := New(context.Background(), nil)
	require.ErrorContains(t, err, "mysqlstore: new: nil db")

	db := testDB(t)
	_, err = New(context.Background(), db, WithTable(""))
	require.ErrorContains(t, err, "empty table name")
	_, err = New(context.Background(), db, WithTable("a..b"))
	require.ErrorContains(t, err, "invalid table name")

	// Without WithCreateSchema, a missing table is reported with a hint.
	_, err = New(context.Background(), db, WithTable("sessiongen_missing_sessions"))
	require.ErrorContains(t, err, "mysqlstore.Schema")
}

func TestBadInput(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true))
	enginetest.SQLBadInput(t, "mysqlstore", s)
	ctx := context.Background()
	rec := enginetest.LiveRecord()
	// A key longer than the column is an error, not a panic.
	long := strings.Repeat("k", 256)
	require.ErrorContains(t, s.Create(ctx, long, rec), "mysqlstore: create: key longer than 255 bytes")
	_, err := s.Load(ctx, long)
	require.ErrorContains(t, err, "mysqlstore: load: key longer")
	_, err = s.Update(ctx, long, store.Change{})
	require.ErrorContains(t, err, "mysqlstore: update: key longer")
	require.ErrorContains(t, s.Delete(ctx, long), "mysqlstore: delete: key longer")
	require.NoError(t, s.Create(ctx, long[:255], rec), "a 255-byte key fits")

	// A field key longer than MaxFieldKeyLen, which the store could write
	// but not read back, is refused by Create, Update and Move; the
	// longest one round-trips.
	longField := strings.Repeat("f", MaxFieldKeyLen+1)
	key := storetest.NewKey(t)
	big := enginetest.LiveRecord()
	big.Fields[longField] = []byte("v")
	err = s.Create(ctx, key, big)
	require.ErrorIs(t, err, store.ErrInvalid, "Create")
	require.ErrorContains(t, err, "mysqlstore: create: field key longer than 1535 bytes")
	require.NoError(t, s.Create(ctx, key, rec))
	set := store.Change{Set: map[string][]byte{longField: []byte("v")}, Expires: rec.Expires}
	_, err = s.Update(ctx, key, set)
	require.ErrorIs(t, err, store.ErrInvalid, "Update")
	_, err = s.Move(ctx, key, storetest.NewKey(t), set)
	require.ErrorIs(t, err, store.ErrInvalid, "Move")
	set.Set = map[string][]byte{longField[1:]: []byte("v")}
	_, err = s.Update(ctx, key, set)
	require.NoError(t, err, "the longest field key")
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got.Fields[longField[1:]])
}

// TestMigration: the DDL from Schema, run by hand, is what New needs.
func TestMigration(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	table, opt := testTable(t)
	_, err := New(ctx, db, opt)
	require.ErrorContains(t, err, "mysqlstore.Schema", "before the migration")
	_, err = db.ExecContext(ctx, Schema(opt))
	require.NoError(t, err, "migration")
	s := newTestStore(t, db, opt)
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	assert.Equal(t, 1, rowCount(t, db, table, key))
}

// TestUpdateShapes: Changes of every size up to a few dozen fields, whose
// statements pad spare argument slots, write exactly what they say.
func TestUpdateShapes(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 20, 29, 40} {
		key := storetest.NewKey(t)
		rec := enginetest.LiveRecord()
		for i := range n {
			rec.Fields[fmt.Sprintf("old%02d", i)] = []byte(strings.Repeat("o", i))
		}
		require.NoError(t, s.Create(ctx, key, rec))
		c := store.Change{Set: make(map[string][]byte)}
		want := make(map[string][]byte)
		for i := range n {
			c.Set[fmt.Sprintf("new%02d", i)] = []byte(strings.Repeat("n", n-i))
			want[fmt.Sprintf("new%02d", i)] = []byte(strings.Repeat("n", n-i))
			if i%3 == 0 {
				c.Remove = append(c.Remove, fmt.Sprintf("old%02d", i))
			} else {
				want[fmt.Sprintf("old%02d", i)] = []byte(strings.Repeat("o", i))
			}
		}
		v, err := s.Update(ctx, key, c)
		require.NoError(t, err, "n=%d", n)
		assert.Equal(t, uint64(2), v, "n=%d", n)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		require.Equal(t, want, got.Fields, "n=%d", n)
	}
	assert.Equal(t, [3]int{6, 0, 0}, updateShape(5, 0, 0))
	assert.Equal(t, [3]int{0, 9, 1}, updateShape(0, 7, 1))
	assert.Equal(t, [3]int{4, 13, 6}, updateShape(4, 10, 5))
}
