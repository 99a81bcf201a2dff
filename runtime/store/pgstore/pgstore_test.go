package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	newTestStore(t, pool, tables, WithCreateSchema(true))
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables)
	})
}

// TestConformanceSimpleProtocol runs the suite through the simple query
// protocol (what poolers in transaction mode need): the batch is then one
// multi-statement query, still one implicit transaction.
func TestConformanceSimpleProtocol(t *testing.T) {
	cfg := testConfig(t)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pool := newPool(t, cfg)
	tables := tableOpt(t)
	newTestStore(t, pool, tables, WithCreateSchema(true))
	storetest.Run(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables)
	})
}

func TestTwoNodes(t *testing.T) {
	tables := tableOpt(t)
	a := newTestStore(t, testPool(t), tables, WithCreateSchema(true))
	b := newTestStore(t, testPool(t), tables, WithCreateSchema(true))
	storetest.TwoNodes(t, a, b)
}

// TestRoundTrips counts the round trips on the wire: one per operation
// once the connection has prepared the statements, and an Update of one
// small field sends a few hundred bytes even when the session is large.
func TestRoundTrips(t *testing.T) {
	var c counter
	cfg := testConfig(t)
	cfg.ConnConfig.DialFunc = c.dial()
	cfg.MaxConns = 1
	pool := newPool(t, cfg)
	s := newTestStore(t, pool, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()

	big := bytes.Repeat([]byte{'x'}, 64<<10)
	rec := store.Record{
		Fields:  map[string][]byte{"big": big, "small": []byte("1"), "gone": []byte("2")},
		Created: time.Now(),
		Expires: time.Now().Add(time.Hour),
	}
	// Warm up: the connection prepares each statement on first use.
	warm := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, warm, rec))
	_, err := s.Load(ctx, warm)
	require.NoError(t, err)
	require.NoError(t, s.Update(ctx, warm, store.Change{Set: map[string][]byte{"small": []byte("2")}}))
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
	assert.Less(t, sent, 1024, "bytes sent by an Update of one small field")
	measure("touch", func() error { return s.Update(ctx, key, store.Change{Expires: time.Now().Add(time.Hour)}) })
	measure("Update of a missing session", func() error {
		err := s.Update(ctx, storetest.NewKey(t), store.Change{Set: map[string][]byte{"a": nil}})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("want ErrNotFound, got %v", err)
	})
	measure("Delete", func() error { return s.Delete(ctx, key) })
}

// rowCounts returns how many session and field rows key has in the
// store's tables, read through pool.
func rowCounts(t *testing.T, pool *pgxpool.Pool, s *Store, key string) (sessions, fields int) {
	t.Helper()
	// The table names are in the cleanup query; reuse the store's queries.
	sessTable := between(s.q.delete, "DELETE FROM ", " WHERE")
	fieldTable := between(s.q.load, "LEFT JOIN ", " f ON")
	err := pool.QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM "+sessTable+" WHERE session_key = $1), (SELECT count(*) FROM "+fieldTable+" WHERE session_key = $1)",
		key).Scan(&sessions, &fields)
	require.NoError(t, err)
	return sessions, fields
}

// between returns the part of s between before and after.
func between(s, before, after string) string {
	s = s[strings.Index(s, before)+len(before):]
	return s[:strings.Index(s, after)]
}

// expiredRecord is a record whose expiry has passed.
func expiredRecord() store.Record {
	return store.Record{
		Fields:  map[string][]byte{"a": []byte("1"), "b": []byte("2")},
		Created: time.Now().Add(-time.Hour),
		Expires: time.Now().Add(-time.Second),
	}
}

func TestCleanup(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	ctx := context.Background()
	s, err := New(ctx, pool, tables, WithCreateSchema(true), WithCleanupInterval(20*time.Millisecond))
	require.NoError(t, err)
	manual := newTestStore(t, pool, tables, WithCleanupInterval(0))

	expired, live := storetest.NewKey(t), storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, expired, expiredRecord()))
	require.NoError(t, s.Create(ctx, live, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))
	require.Eventually(t, func() bool {
		ns, nf := rowCounts(t, pool, s, expired)
		return ns == 0 && nf == 0
	}, 10*time.Second, 10*time.Millisecond, "the cleanup goroutine deletes the expired session and its fields")
	ns, nf := rowCounts(t, pool, s, live)
	assert.Equal(t, 1, ns, "live session row")
	assert.Equal(t, 1, nf, "live field rows")

	// After Close the goroutine no longer runs.
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	later := storetest.NewKey(t)
	require.NoError(t, manual.Create(ctx, later, expiredRecord()))
	time.Sleep(200 * time.Millisecond) // ten cleanup intervals
	ns, nf = rowCounts(t, pool, s, later)
	assert.Equal(t, 1, ns, "expired session row kept after Close")
	assert.Equal(t, 2, nf, "expired field rows kept after Close")

	// DeleteExpired does the same on demand.
	n, err := manual.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(1))
	ns, nf = rowCounts(t, pool, s, later)
	assert.Zero(t, ns+nf, "rows left after DeleteExpired")
	_, err = manual.Load(ctx, live)
	require.NoError(t, err, "live session survives DeleteExpired")
}

// TestCleanupSparesTakenOver: a session replaced by Create after it
// expired is live again and the cleanup leaves it.
func TestCleanupSparesTakenOver(t *testing.T) {
	pool := testPool(t)
	s := newTestStore(t, pool, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, expiredRecord()))
	rec := store.Record{Fields: map[string][]byte{"a": []byte("new")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	require.NoError(t, s.Create(ctx, key, rec))
	_, err := s.DeleteExpired(ctx)
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("new")}, got.Fields)
}

func TestClock(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	s := newTestStore(t, pool, tables, WithCreateSchema(true))
	ahead := newTestStore(t, pool, tables, WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))
	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	_, err = ahead.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound, "a store whose clock is past the expiry sees no session")
	require.ErrorIs(t, ahead.Update(ctx, key, store.Change{Set: map[string][]byte{"b": nil}}), store.ErrNotFound)
}

// TestAwkwardKeys: field keys that mean something in SQL, JSON or JSON
// paths round-trip and can be set and removed one by one.
func TestAwkwardKeys(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t), WithCreateSchema(true))
	ctx := context.Background()
	keys := []string{
		"a.b", "$", "$.a", "$[0]", "[0]", "*", "**", `"`, `\`, `\"`, `\u0041`, "'", "`", "\n\t\r",
		"null", "{}", `{"a":1}`, " lead", "trail ", "\x7f\x01", "ü", "𝄞", "a\"b.c[1]", "--", "/*", ";",
		strings.Repeat("é", 64),
	}
	rec := store.Record{Fields: map[string][]byte{}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
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
	s := newTestStore(t, testPool(t), tableOpt(t), WithCreateSchema(true))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))
	require.NoError(t, s.Update(ctx, key, store.Change{
		Set:    map[string][]byte{"a": []byte("2"), "b": []byte("3")},
		Remove: []string{"a", "b", "a"},
	}))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("2"), "b": []byte("3")}, got.Fields)
}

// TestContextDeadline: operations blocked by a table lock return when
// their deadline passes, with an error wrapping context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	pool := testPool(t)
	s := newTestStore(t, pool, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // rolled back below
	sessTable := between(s.q.delete, "DELETE FROM ", " WHERE")
	_, err = tx.Exec(ctx, "LOCK TABLE "+sessTable+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	ops := map[string]func(ctx context.Context) error{
		"load": func(ctx context.Context) error { _, err := s.Load(ctx, key); return err },
		"create": func(ctx context.Context) error {
			return s.Create(ctx, storetest.NewKey(t), store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)})
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
		require.ErrorContains(t, err, "pgstore: "+name)
	}
	// The lock is still held: every call returned on its deadline.
	require.NoError(t, tx.Rollback(ctx))
	got, err := s.Load(ctx, key)
	require.NoError(t, err, "the store works after the lock is gone")
	assert.Contains(t, got.Fields, "a")
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
	p := newProxy(t, network, target)
	host, port, ok := strings.Cut(p.addr, ":")
	require.True(t, ok)
	cfg.ConnConfig.Host = host
	_, err := fmt.Sscan(port, &cfg.ConnConfig.Port)
	require.NoError(t, err)
	cfg.ConnConfig.Fallbacks = nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool := newPool(t, cfg)
	s := newTestStore(t, pool, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	rec := store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	require.NoError(t, s.Create(ctx, key, rec))

	p.stop()
	_, err = s.Load(ctx, key)
	requireOutageErr(t, err, "load")
	requireOutageErr(t, s.Create(ctx, storetest.NewKey(t), rec), "create")
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
	require.ErrorContains(t, err, "pgstore: "+op)
	require.NotErrorIs(t, err, store.ErrNotFound, op)
}

func TestUnreachable(t *testing.T) {
	cfg := testConfig(t)
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cfg.ConnConfig.Host = host
	_, err := fmt.Sscan(port, &cfg.ConnConfig.Port)
	require.NoError(t, err)
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
	s := newTestStore(t, testPool(t), tableOpt(t), WithCreateSchema(true))
	ctx := context.Background()
	rec := store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	_, err := s.Load(ctx, "")
	require.ErrorContains(t, err, "pgstore: load: empty key")
	require.ErrorContains(t, s.Create(ctx, "", rec), "pgstore: create: empty key")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Created: time.Now()}), "no expiry")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Fields: map[string][]byte{"": nil}, Expires: rec.Expires}), "empty field key")
	require.ErrorContains(t, s.Update(ctx, "", store.Change{}), "pgstore: update: empty key")
	require.ErrorContains(t, s.Update(ctx, "k", store.Change{Set: map[string][]byte{"": nil}}), "empty field key")
	require.ErrorContains(t, s.Delete(ctx, ""), "pgstore: delete: empty key")
	// A key the database cannot hold is an error, not a panic.
	require.ErrorContains(t, s.Create(ctx, "nul\x00key", rec), "pgstore: create")
}

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
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))
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
	s := newTestStore(t, pool, tableOpt(t), WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}))
	sessTable := between(s.q.delete, "DELETE FROM ", " WHERE")
	fieldTable := between(s.q.load, "LEFT JOIN ", " f ON")

	// Another writer holds the session and adds field x.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	_, err = tx.Exec(ctx, "SELECT 1 FROM "+sessTable+" WHERE session_key = $1 FOR UPDATE", key)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO "+fieldTable+" (session_key, name, value) VALUES ($1, 'x', 'X')", key)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, key, store.Change{Set: map[string][]byte{"y": []byte("Y")}, Remove: []string{"x"}})
	}()
	// Wait until the Update is blocked on the lock, then let it go.
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%'",
			sessTable).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "Update waits for the lock")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "y": []byte("Y")}, got.Fields)
}
