package mysqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"database/sql"

	"github.com/go-sql-driver/mysql"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	db := testDB(t)
	table := tableOpt(t)
	newTestStore(t, db, table, WithCreateSchema(true))
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, db, table)
	})
}

// TestConformanceClientFoundRows runs the suite on connections with
// clientFoundRows=true, where an unchanged row counts as affected.
func TestConformanceClientFoundRows(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClientFoundRows = true
	db := newDB(t, cfg)
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

// TestRoundTrips counts the round trips on the wire: one per operation
// once the connection has prepared the statements, and an Update of one
// small field sends a few hundred bytes even when the session is large.
func TestRoundTrips(t *testing.T) {
	var c counter
	cfg := testConfig(t)
	cfg.DialFunc = c.dial()
	db := newDB(t, cfg)
	db.SetMaxOpenConns(1)
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()

	big := bytes.Repeat([]byte{'x'}, 48<<10)
	rec := store.Record{
		Fields:  map[string][]byte{"big": big, "small": []byte("1"), "gone": []byte("2")},
		Created: time.Now(),
		Expires: time.Now().Add(time.Hour),
	}
	// Warm up: the connection has the statements prepared by New.
	warm := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, warm, rec))
	_, err := s.Load(ctx, warm)
	require.NoError(t, err)
	// ... and each shape of Update on first use.
	require.NoError(t, s.Update(ctx, warm, store.Change{Set: map[string][]byte{"small": []byte("2")}}))
	require.NoError(t, s.Update(ctx, warm, store.Change{Expires: time.Now().Add(time.Hour)}))
	require.NoError(t, s.Delete(ctx, warm))

	key := storetest.NewKey(t)
	measure := func(what string, f func() error) int {
		t.Helper()
		c.reset()
		require.NoError(t, f(), what)
		trips, sent := c.get()
		assert.Equal(t, 1, trips, "round trips of %s", what)
		return sent
	}
	measure("Create", func() error { return s.Create(ctx, key, rec) })
	measure("Load", func() error {
		got, err := s.Load(ctx, key)
		if err == nil && !bytes.Equal(got.Fields["big"], big) {
			err = errors.New("big field differs")
		}
		return err
	})
	sent := measure("Update", func() error {
		return s.Update(ctx, key, store.Change{
			Set:     map[string][]byte{"small": []byte("3")},
			Remove:  []string{"gone"},
			Expires: time.Now().Add(2 * time.Hour),
		})
	})
	assert.Less(t, sent, 512, "bytes sent by an Update of one small field")
	measure("touch", func() error { return s.Update(ctx, key, store.Change{Expires: time.Now().Add(time.Hour)}) })
	measure("Update of a missing session", func() error {
		err := s.Update(ctx, storetest.NewKey(t), store.Change{Set: map[string][]byte{"a": nil}})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("want ErrNotFound, got %v", err)
	})
	measure("Create of a live session", func() error {
		err := s.Create(ctx, key, rec)
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return fmt.Errorf("want ErrExists, got %v", err)
	})
	measure("Delete", func() error { return s.Delete(ctx, key) })
}

// rowExists reports whether key has a row in table, expired or not.
func rowExists(t *testing.T, s *Store, table, key string) bool {
	t.Helper()
	var n int
	err := s.db.QueryRow("SELECT count(*) FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&n)
	require.NoError(t, err)
	return n > 0
}

// testTable returns a fresh table name (dropped at the end of the test)
// and the option naming it.
func testTable(t *testing.T) (string, Option) {
	t.Helper()
	var c config
	opt := tableOpt(t)
	opt(&c)
	return c.table, opt
}

// expiredRecord is a record whose expiry has passed.
func expiredRecord() store.Record {
	return store.Record{
		Fields:  map[string][]byte{"a": []byte("1"), "b": []byte("2")},
		Created: time.Now().Add(-time.Hour),
		Expires: time.Now().Add(-time.Second),
	}
}

// liveRecord is a record expiring in an hour.
func liveRecord(kv ...string) store.Record {
	f := make(map[string][]byte)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = []byte(kv[i+1])
	}
	return store.Record{Fields: f, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
}

func TestCleanup(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	ctx := context.Background()
	s, err := New(ctx, db, opt, WithCreateSchema(true), WithCleanupInterval(20*time.Millisecond))
	require.NoError(t, err)
	manual := newTestStore(t, db, opt, WithCleanupInterval(0))

	expired, live := storetest.NewKey(t), storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, expired, expiredRecord()))
	require.NoError(t, s.Create(ctx, live, liveRecord("a", "1")))
	require.Eventually(t, func() bool {
		return !rowExists(t, manual, table, expired)
	}, 10*time.Second, 10*time.Millisecond, "the cleanup goroutine deletes the expired session")
	assert.True(t, rowExists(t, manual, table, live), "live session row")

	// After Close the goroutine no longer runs.
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	later := storetest.NewKey(t)
	require.NoError(t, manual.Create(ctx, later, expiredRecord()))
	time.Sleep(200 * time.Millisecond) // ten cleanup intervals
	assert.True(t, rowExists(t, manual, table, later), "expired row kept after Close")

	// DeleteExpired does the same on demand.
	n, err := manual.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(1))
	assert.False(t, rowExists(t, manual, table, later), "row left after DeleteExpired")
	_, err = manual.Load(ctx, live)
	require.NoError(t, err, "live session survives DeleteExpired")
}

// TestCleanupSparesTakenOver: a session replaced by Create after it
// expired is live again and the cleanup leaves it.
func TestCleanupSparesTakenOver(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, expiredRecord()))
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "new")))
	_, err := s.DeleteExpired(ctx)
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("new")}, got.Fields, "old fields are gone, new ones kept")
}

func TestClock(t *testing.T) {
	db := testDB(t)
	opt := tableOpt(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true))
	ahead := newTestStore(t, db, opt, WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))
	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	_, err = ahead.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound, "a store whose clock is past the expiry sees no session")
	require.ErrorIs(t, ahead.Update(ctx, key, store.Change{Set: map[string][]byte{"b": nil}}), store.ErrNotFound)
}

// TestAwkwardKeys: field keys that mean something in JSON paths, JSON
// text or SQL round-trip and can be set and removed one by one.
func TestAwkwardKeys(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true))
	ctx := context.Background()
	keys := []string{
		"a.b", "$", "$.a", "$[0]", "[0]", "*", "**", `"`, `\`, `\"`, `\u0041`, "'", "`", "\n\t\r",
		"null", "{}", `{"a":1}`, " lead", "trail ", "\x7f\x01", "ü", "𝄞", "a\"b.c[1]", "--", "/*", ";",
		strings.Repeat("é", 64),
	}
	rec := liveRecord()
	for i, k := range keys {
		rec.Fields[k] = []byte{byte(i), 0xff, '"', '\\'}
	}
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, rec))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, rec.Fields, got.Fields)

	want := rec.Fields
	for i, k := range keys {
		if i%2 == 0 {
			require.NoError(t, s.Update(ctx, key, store.Change{Remove: []string{k}}), "remove %q", k)
			delete(want, k)
		} else {
			require.NoError(t, s.Update(ctx, key, store.Change{Set: map[string][]byte{k: []byte("new " + k)}}), "set %q", k)
			want[k] = []byte("new " + k)
		}
	}
	got, err = s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, want, got.Fields)
}

// TestSetWinsOverRemove: a key both set and removed in one Change is set.
func TestSetWinsOverRemove(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))
	require.NoError(t, s.Update(ctx, key, store.Change{
		Set:    map[string][]byte{"a": []byte("2"), "b": []byte("3")},
		Remove: []string{"a", "b", "a"},
	}))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("2"), "b": []byte("3")}, got.Fields)
}

// TestLayout checks the stored document: ASCII only, base64 names and
// values, and an Update that sets an equal value still counts as found.
func TestLayout(t *testing.T) {
	table, opt := testTable(t)
	s := newTestStore(t, testDB(t), opt, WithCreateSchema(true))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("ключ 🍪", "значение")))
	var data string
	var version int64
	require.NoError(t, s.db.QueryRow("SELECT data, version FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&data, &version))
	assert.NotContains(t, data, "ключ")
	for _, r := range data {
		require.Less(t, r, rune(0x80), "non-ASCII in %q", data)
	}
	// Writing the same value again changes no data but is still a hit.
	require.NoError(t, s.Update(ctx, key, store.Change{Set: map[string][]byte{"ключ 🍪": []byte("значение")}}))
	var version2 int64
	require.NoError(t, s.db.QueryRow("SELECT version FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&version2))
	assert.Equal(t, version+1, version2)
}

// TestCorruptData: a document the store did not write is an error, not a
// panic.
func TestCorruptData(t *testing.T) {
	table, opt := testTable(t)
	s := newTestStore(t, testDB(t), opt, WithCreateSchema(true))
	ctx := context.Background()
	for _, doc := range []string{`{"!!": "AA=="}`, `{"YQ": "%%"}`, `[1]`} {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, liveRecord()))
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
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // committed below
	_, err = tx.Exec("UPDATE "+quoteTable(table)+" SET data = JSON_SET(data, ?, ?) WHERE session_key = ?",
		fieldPath("x"), encodeValue([]byte("X")), key)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, key, store.Change{Set: map[string][]byte{"y": []byte("Y")}, Remove: []string{"x"}})
	}()
	require.Eventually(t, func() bool {
		var n int
		err := db.QueryRow("SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'").Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 150*time.Millisecond, "Update waits for the row lock") // InnoDB refreshes innodb_trx at most every 100ms
	require.NoError(t, tx.Commit())
	require.NoError(t, <-done)

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "y": []byte("Y")}, got.Fields)
}

// TestContextDeadline: operations blocked by a table lock return when
// their deadline passes, with an error wrapping context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "LOCK TABLES "+quoteTable(table)+" WRITE")
	require.NoError(t, err)

	ops := map[string]func(ctx context.Context) error{
		"load": func(ctx context.Context) error { _, err := s.Load(ctx, key); return err },
		"create": func(ctx context.Context) error {
			return s.Create(ctx, storetest.NewKey(t), liveRecord())
		},
		"update": func(ctx context.Context) error {
			return s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}})
		},
		"delete": func(ctx context.Context) error { return s.Delete(ctx, storetest.NewKey(t)) },
	}
	for name, op := range ops {
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := op(dctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, name)
		require.ErrorContains(t, err, "mysqlstore: "+name)
	}
	// The lock is still held: every call returned on its deadline.
	_, err = conn.ExecContext(ctx, "UNLOCK TABLES")
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err, "the store works after the lock is gone")
	assert.Contains(t, got.Fields, "a")
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
	p := newProxy(t, network, cfg.Addr)
	cfg.Net, cfg.Addr = "tcp", p.addr
	cfg.Timeout = 2 * time.Second
	cfg.Logger = &mysql.NopLogger{} // the driver logs the cut connections
	db := newDB(t, cfg)
	s := newTestStore(t, db, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))

	p.stop()
	_, err := s.Load(ctx, key)
	requireOutageErr(t, err, "load")
	requireOutageErr(t, s.Create(ctx, storetest.NewKey(t), liveRecord()), "create")
	requireOutageErr(t, s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}}), "update")
	requireOutageErr(t, s.Delete(ctx, key), "delete")
	_, err = s.DeleteExpired(ctx)
	requireOutageErr(t, err, "cleanup")

	p.start()
	require.NoError(t, s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("3")}}))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "c": []byte("3")}, got.Fields)
}

// requireOutageErr checks an error from an operation during an outage.
func requireOutageErr(t *testing.T, err error, op string) {
	t.Helper()
	require.Error(t, err, op)
	require.ErrorContains(t, err, "mysqlstore: "+op)
	require.NotErrorIs(t, err, store.ErrNotFound, op)
}

func TestUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Net, cfg.Addr = "tcp", freeAddr(t)
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
	ctx := context.Background()
	rec := liveRecord()
	_, err := s.Load(ctx, "")
	require.ErrorContains(t, err, "mysqlstore: load: empty key")
	require.ErrorContains(t, s.Create(ctx, "", rec), "mysqlstore: create: empty key")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Created: time.Now()}), "no expiry")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Fields: map[string][]byte{"": nil}, Expires: rec.Expires}), "empty field key")
	require.ErrorContains(t, s.Update(ctx, "", store.Change{}), "mysqlstore: update: empty key")
	require.ErrorContains(t, s.Update(ctx, "k", store.Change{Set: map[string][]byte{"": nil}}), "empty field key")
	require.ErrorContains(t, s.Delete(ctx, ""), "mysqlstore: delete: empty key")
	// A key longer than the column is an error, not a panic.
	long := strings.Repeat("k", 256)
	require.ErrorContains(t, s.Create(ctx, long, rec), "mysqlstore: create: key longer than 255 bytes")
	_, err = s.Load(ctx, long)
	require.ErrorContains(t, err, "mysqlstore: load: key longer")
	require.ErrorContains(t, s.Update(ctx, long, store.Change{}), "mysqlstore: update: key longer")
	require.ErrorContains(t, s.Delete(ctx, long), "mysqlstore: delete: key longer")
	require.NoError(t, s.Create(ctx, long[:255], rec), "a 255-byte key fits")
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
	require.NoError(t, s.Create(ctx, key, liveRecord("a", "1")))
	assert.True(t, rowExists(t, s, table, key))
}

// TestUpdateShapes: Changes of every size up to a few dozen fields, whose
// statements pad spare argument slots, write exactly what they say.
func TestUpdateShapes(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 20, 29, 40} {
		key := storetest.NewKey(t)
		rec := liveRecord()
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
		require.NoError(t, s.Update(ctx, key, c), "n=%d", n)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		require.Equal(t, want, got.Fields, "n=%d", n)
	}
	assert.Equal(t, [2]int{6, 0}, updateShape(5, 0))
	assert.Equal(t, [2]int{0, 9}, updateShape(0, 7))
	assert.Equal(t, [2]int{4, 13}, updateShape(4, 10))
}
