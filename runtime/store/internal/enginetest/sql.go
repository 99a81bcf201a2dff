package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// SQLStore is a store of an SQL engine: expiry in a column, purged by a
// background cleanup that Close stops, or on demand.
type SQLStore interface {
	store.Store
	DeleteExpired(ctx context.Context) (int64, error)
	Close() error
}

// SQL is what the shared tests of the SQL engines (pgstore, mysqlstore)
// need from one: an engine's test makes one per test, on fresh tables.
type SQL struct {
	// Engine is the package name its errors start with ("pgstore").
	Engine string
	// Open returns a Store on the test's tables, the schema created,
	// closed when t ends. Every call opens the same tables. cleanup is the
	// interval of the background cleanup (zero: none) and clock the
	// store's clock (nil: time.Now).
	Open func(t *testing.T, cleanup time.Duration, clock func() time.Time) SQLStore
	// Rows returns how many rows the session under key has in the tables,
	// expired or not: the session's own row and the rows of its fields.
	Rows func(t *testing.T, key string) (sessions, fields int)
	// FieldRows tells whether each field of a session is a row of its own
	// (false: the fields live in the session's row, and Rows reports no
	// field rows).
	FieldRows bool
}

// assertRows checks that the session under key has the rows rec takes.
func (e SQL) assertRows(t *testing.T, key string, rec store.Record, what string) {
	t.Helper()
	sessions, fields := e.Rows(t, key)
	want := 0
	if e.FieldRows {
		want = len(rec.Fields)
	}
	assert.Equal(t, 1, sessions, "%s: session row", what)
	assert.Equal(t, want, fields, "%s: field rows", what)
}

// Cleanup checks the background cleanup: it deletes expired sessions (and
// their fields) and leaves live ones; after Close, which may be called
// twice, it no longer runs; and DeleteExpired does the same on demand.
func Cleanup(t *testing.T, e SQL) {
	ctx := context.Background()
	s := e.Open(t, 20*time.Millisecond, nil)
	manual := e.Open(t, 0, nil)

	expired, live := storetest.NewKey(t), storetest.NewKey(t)
	liveRec := LiveRecord("a", "1")
	require.NoError(t, s.Create(ctx, expired, ExpiredRecord()))
	require.NoError(t, s.Create(ctx, live, liveRec))
	require.Eventually(t, func() bool {
		sessions, fields := e.Rows(t, expired)
		return sessions == 0 && fields == 0
	}, 10*time.Second, 10*time.Millisecond, "the cleanup goroutine deletes the expired session and its fields")
	e.assertRows(t, live, liveRec, "live session")

	// After Close the goroutine no longer runs.
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	later := storetest.NewKey(t)
	require.NoError(t, manual.Create(ctx, later, ExpiredRecord()))
	time.Sleep(200 * time.Millisecond) // ten cleanup intervals
	e.assertRows(t, later, ExpiredRecord(), "expired session kept after Close")

	// DeleteExpired does the same on demand.
	n, err := manual.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(1))
	sessions, fields := e.Rows(t, later)
	assert.Zero(t, sessions+fields, "rows left after DeleteExpired")
	_, err = manual.Load(ctx, live)
	require.NoError(t, err, "live session survives DeleteExpired")
}

// CleanupSparesTakenOver checks that a session replaced by Create after
// it expired is live again, and that the cleanup leaves it.
func CleanupSparesTakenOver(t *testing.T, s SQLStore) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, ExpiredRecord()))
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "new")))
	_, err := s.DeleteExpired(ctx)
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("new")}, got.Fields, "old fields are gone, new ones kept")
}

// Clock checks that expiry is judged by the store's clock: a store whose
// clock is past a session's expiry neither loads nor updates it.
func Clock(t *testing.T, e SQL) {
	s := e.Open(t, 0, nil)
	ahead := e.Open(t, 0, func() time.Time { return time.Now().Add(2 * time.Hour) })
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "1")))
	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	_, err = ahead.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound, "a store whose clock is past the expiry sees no session")
	require.ErrorIs(t, updateErr(ctx, ahead, key, store.Change{Set: map[string][]byte{"b": nil}}), store.ErrNotFound)
}

// AwkwardKeys checks that field keys meaning something in SQL, JSON text
// or JSON paths round-trip and can be set and removed one by one.
func AwkwardKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	keys := []string{
		"a.b", "$", "$.a", "$[0]", "[0]", "*", "**", `"`, `\`, `\"`, `\u0041`, "'", "`", "\n\t\r",
		"null", "{}", `{"a":1}`, " lead", "trail ", "\x7f\x01", "ü", "𝄞", "a\"b.c[1]", "--", "/*", ";",
		strings.Repeat("é", 64),
	}
	rec := LiveRecord()
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
			require.NoError(t, updateErr(ctx, s, key, store.Change{Remove: []string{k}}), "remove %q", k)
			delete(want, k)
		} else {
			require.NoError(t, updateErr(ctx, s, key, store.Change{Set: map[string][]byte{k: []byte("new " + k)}}), "set %q", k)
			want[k] = []byte("new " + k)
		}
	}
	got, err = s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, want, got.Fields)
}

// SetWinsOverRemove checks that a key both set and removed (even twice)
// in one Change ends up set.
func SetWinsOverRemove(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "1")))
	require.NoError(t, updateErr(ctx, s, key, store.Change{
		Set:    map[string][]byte{"a": []byte("2"), "b": []byte("3")},
		Remove: []string{"a", "b", "a"},
	}))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("2"), "b": []byte("3")}, got.Fields)
}

// SQLBadInput checks that s refuses an empty key, a record without
// expiry and an empty field key with errors naming the engine and the
// operation.
func SQLBadInput(t *testing.T, engine string, s store.Store) {
	ctx := context.Background()
	rec := LiveRecord()
	_, err := s.Load(ctx, "")
	require.ErrorContains(t, err, engine+": load: empty key")
	require.ErrorContains(t, s.Create(ctx, "", rec), engine+": create: empty key")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Created: time.Now()}), "no expiry")
	require.ErrorContains(t, s.Create(ctx, storetest.NewKey(t), store.Record{Fields: map[string][]byte{"": nil}, Expires: rec.Expires}), "empty field key")
	require.ErrorContains(t, updateErr(ctx, s, "", store.Change{}), engine+": update: empty key")
	require.ErrorContains(t, updateErr(ctx, s, "k", store.Change{Set: map[string][]byte{"": nil}}), "empty field key")
	require.ErrorContains(t, s.Delete(ctx, ""), engine+": delete: empty key")
}

// RoundTrips counts, with c (which must count every connection of s, and
// s must use one connection), the round trips of each operation: one,
// once the connection has prepared its statements. An Update of one small
// field sends fewer than maxUpdateBytes bytes although the session holds
// a field of bigField bytes. s must implement [store.Versioner] and
// [store.OwnerIndex]: Version, Owned and an Update that moves the
// session to another owner cost one round trip too, and the versions
// Update returns count the Updates. An Update of a missing session costs
// missingUpdateTrips round trips (an engine may try a second statement
// before it reports ErrNotFound).
func RoundTrips(t *testing.T, s store.Store, c *Counter, bigField, maxUpdateBytes, missingUpdateTrips int) {
	ctx := context.Background()
	versioner, ok := s.(store.Versioner)
	require.Truef(t, ok, "%T implements store.Versioner", s)
	index, ok := s.(store.OwnerIndex)
	require.Truef(t, ok, "%T implements store.OwnerIndex", s)
	big := bytes.Repeat([]byte{'x'}, bigField)
	owner := UniqueName("owner-")
	rec := store.Record{
		Fields:  map[string][]byte{"big": big, "small": []byte("1"), "gone": []byte("2")},
		Created: time.Now(),
		Expires: time.Now().Add(time.Hour),
		Owner:   owner,
	}
	// Warm up: the connection prepares each statement, and each shape of
	// Update, on first use.
	warm := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, warm, rec))
	_, err := s.Load(ctx, warm)
	require.NoError(t, err)
	_, err = s.Update(ctx, warm, store.Change{Set: map[string][]byte{"small": []byte("2")}})
	require.NoError(t, err)
	_, err = s.Update(ctx, warm, store.Change{Expires: time.Now().Add(time.Hour), Owner: &owner})
	require.NoError(t, err)
	_, err = versioner.Version(ctx, warm)
	require.NoError(t, err)
	_, err = index.Owned(ctx, owner)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, warm))

	key := storetest.NewKey(t)
	measureTrips := func(what string, want int, f func() error) int {
		t.Helper()
		c.Reset()
		require.NoError(t, f(), what)
		trips, sent := c.Get()
		assert.Equal(t, want, trips, "round trips of %s", what)
		return sent
	}
	measure := func(what string, f func() error) int {
		t.Helper()
		return measureTrips(what, 1, f)
	}
	// update runs s.Update and checks the version it returns.
	update := func(ch store.Change, want uint64) func() error {
		return func() error {
			v, err := s.Update(ctx, key, ch)
			if err == nil && v != want {
				err = fmt.Errorf("update returned version %d, want %d", v, want)
			}
			return err
		}
	}
	measure("Create", func() error { return s.Create(ctx, key, rec) })
	measure("Load", func() error {
		got, err := s.Load(ctx, key)
		if err == nil && !bytes.Equal(got.Fields["big"], big) {
			err = errors.New("big field differs")
		}
		return err
	})
	sent := measure("Update", update(store.Change{
		Set:     map[string][]byte{"small": []byte("3")},
		Remove:  []string{"gone"},
		Expires: time.Now().Add(2 * time.Hour),
	}, 2))
	assert.Less(t, sent, maxUpdateBytes, "bytes sent by an Update of one small field")
	measure("touch", update(store.Change{Expires: time.Now().Add(time.Hour)}, 3))
	other := owner + "-other"
	measure("Update moving the session to another owner", update(store.Change{
		Set:   map[string][]byte{"small": []byte("4")},
		Owner: &other,
	}, 4))
	measure("Version", func() error {
		v, err := versioner.Version(ctx, key)
		if err == nil && v != 4 {
			err = fmt.Errorf("version %d, want 4", v)
		}
		return err
	})
	measure("Owned", func() error {
		owned, err := index.Owned(ctx, other)
		if err == nil && (len(owned) != 1 || owned[0].Key != key || owned[0].Version != 4) {
			err = fmt.Errorf("owned = %+v, want the session at version 4", owned)
		}
		return err
	})
	measureTrips("Update of a missing session", missingUpdateTrips, func() error {
		_, err := s.Update(ctx, storetest.NewKey(t), store.Change{Set: map[string][]byte{"a": nil}})
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

// UpdateAfterWaiting checks that an Update blocked by another writer's
// lock on a session applies on top of what that writer committed. lock
// starts, in a transaction of its own, a write to the session under key
// that adds field x (value "X") and holds the session's lock; it returns
// the function committing that transaction. waiting reports whether an
// Update waits for the lock; it is polled every poll.
func UpdateAfterWaiting(t *testing.T, s store.Store, lock func(key string) (commit func() error), waiting func() bool, poll time.Duration) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "1")))
	commit := lock(key)

	done := make(chan error, 1)
	go func() {
		done <- updateErr(ctx, s, key, store.Change{Set: map[string][]byte{"y": []byte("Y")}, Remove: []string{"x"}})
	}()
	// Wait until the Update is blocked on the lock, then let it go.
	require.Eventually(t, waiting, 10*time.Second, poll, "Update waits for the lock")
	require.NoError(t, commit())
	require.NoError(t, <-done)

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "y": []byte("Y")}, got.Fields)
}

// CleanupOp is the operation DeleteExpired of s, for [Outage].
func CleanupOp(s SQLStore) Op {
	return Op{"cleanup", func(ctx context.Context) error {
		_, err := s.DeleteExpired(ctx)
		return err
	}}
}

// LockedDeadlines checks that operations blocked by a lock return when
// their deadline passes, with an error wrapping context.DeadlineExceeded
// (see [RequireDeadlines]), and that s works once the lock is gone. lock
// takes, on another connection, a lock blocking every operation of s, and
// returns the function releasing it. The ops in extra are checked too.
func LockedDeadlines(t *testing.T, engine string, s store.Store, lock func() (unlock func() error), extra ...Op) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "1")))
	unlock := lock()
	RequireDeadlines(t, engine, append(Ops(t, s, key), extra...), 100*time.Millisecond, 2*time.Second)
	// The lock is still held: every call returned on its deadline.
	require.NoError(t, unlock())
	got, err := s.Load(ctx, key)
	require.NoError(t, err, "the store works after the lock is gone")
	assert.Contains(t, got.Fields, "a")
}

// updateErr is s.Update without the version, for checks of the error.
func updateErr(ctx context.Context, s store.Store, key string, c store.Change) error {
	_, err := s.Update(ctx, key, c)
	return err
}
