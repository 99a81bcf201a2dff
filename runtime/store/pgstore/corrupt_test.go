package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// corruptions are damaged session rows a bad writer can leave within the
// schema: each an assignment to the sessions table, and the error Load,
// Version, Update and Move must give.
var corruptions = []struct {
	name string
	set  string
	want error
}{
	{"ExpiresInfinity", `expires = 'infinity'`, store.ErrCorrupt},
	{"ExpiresMinusInfinity", `expires = '-infinity'`, store.ErrNotFound},
	{"CreatedInfinity", `created = 'infinity'`, store.ErrCorrupt},
	{"CreatedMinusInfinity", `created = '-infinity'`, store.ErrCorrupt},
	{"VersionZero", `version = 0`, store.ErrCorrupt},
	{"VersionNegative", `version = -7`, store.ErrCorrupt},
	{"VersionMax", `version = 9223372036854775807`, store.ErrCorrupt},
}

// TestCorrupt plants each corruption through raw SQL, under both query
// protocols (the binary and the text forms of the values): the store
// reports it without writing or panicking, Owned leaves it out, and
// storetest.Corrupt passes (Delete removes it).
func TestCorrupt(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool := newPool(t, cfg)
			sessions, fields, tables := testTables(t)
			s := newTestStore(t, pool, tables, WithCleanupInterval(0))
			for _, c := range corruptions {
				t.Run(c.name, func(t *testing.T) {
					owner := enginetest.UniqueName("corrupt-")
					key := plant(t, s, pool, sessions, owner, c.set)
					before := rowText(t, pool, sessions, fields, key)
					requireRefused(t, s, key, c.want)
					assert.Equal(t, before, rowText(t, pool, sessions, fields, key), "the refused calls wrote")
					owned, err := s.Owned(context.Background(), owner)
					require.NoError(t, err, "Owned with a corrupt session")
					assert.Empty(t, owned, "Owned lists a corrupt session")
					storetest.Corrupt(t, s, key)
					ns, nf := rowCounts(t, pool, sessions, fields, key)
					assert.Equal(t, [2]int{1, 1}, [2]int{ns, nf}, "rows of the session created after the Delete")
				})
			}
		})
	}
}

// plant creates a session owned by owner with two fields, then damages
// its row with the assignment set, and returns its key.
func plant(t *testing.T, s *Store, pool *pgxpool.Pool, sessions, owner, set string) string {
	t.Helper()
	ctx := context.Background()
	key := storetest.NewKey(t)
	rec := enginetest.LiveRecord("a", "1", "b", "2")
	rec.Owner = owner
	require.NoError(t, s.Create(ctx, key, rec))
	tag, err := pool.Exec(ctx, "UPDATE "+quoteTable(sessions)+" SET "+set+" WHERE session_key = $1", key)
	require.NoError(t, err, "plant %s", set)
	require.EqualValues(t, 1, tag.RowsAffected(), "plant %s", set)
	return key
}

// rowText returns the session's row and field rows as text, to tell
// whether anything wrote to them.
func rowText(t *testing.T, pool *pgxpool.Pool, sessions, fields, key string) string {
	t.Helper()
	var text string
	err := pool.QueryRow(context.Background(), `SELECT s::text || coalesce((SELECT string_agg(f::text, ',' ORDER BY f.name) FROM `+
		quoteTable(fields)+` f WHERE f.session_key = s.session_key), '')
FROM `+quoteTable(sessions)+` s WHERE s.session_key = $1`, key).Scan(&text)
	require.NoError(t, err)
	return text
}

// requireRefused checks that Load, Version, Update (plain and
// conditional) and Move of the session under key fail with want, and
// that Move left nothing under its new key.
func requireRefused(t *testing.T, s *Store, key string, want error) {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	owner := "someone"
	_, err := s.Load(ctx, key)
	requireCorruptErr(t, err, want, "load")
	_, err = s.Version(ctx, key)
	requireCorruptErr(t, err, want, "version")
	for _, c := range []store.Change{
		{},
		{Set: map[string][]byte{"a": []byte("x")}, Remove: []string{"b"}, Expires: exp, Owner: &owner},
		// Conditions that would fail too: the damage ranks first.
		{Set: map[string][]byte{"big": make([]byte, 100)}, Expect: map[string][]byte{"a": []byte("9")}, MaxSize: 10},
	} {
		_, err = s.Update(ctx, key, c)
		requireCorruptErr(t, err, want, "update")
		to := storetest.NewKey(t)
		c.Expires = exp
		_, err = s.Move(ctx, key, to, c)
		requireCorruptErr(t, err, want, "move")
		_, err = s.Load(ctx, to)
		require.ErrorIs(t, err, store.ErrNotFound, "Move of a corrupt session wrote its new key")
	}
}

// requireCorruptErr checks that err wraps want and names the engine and
// the operation.
func requireCorruptErr(t *testing.T, err, want error, op string) {
	t.Helper()
	require.ErrorIsf(t, err, want, "%s", op)
	require.ErrorContainsf(t, err, "pgstore: "+op+": ", "%s", op)
}

// TestSchemaRefusesNulls: the columns a bad writer could otherwise leave
// NULL (the times, the version, a field's name and value) are NOT NULL,
// so those corruptions cannot be planted.
func TestSchemaRefusesNulls(t *testing.T) {
	pool := testPool(t)
	sessions, fields, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	for _, q := range []string{
		"UPDATE " + quoteTable(sessions) + " SET created = NULL WHERE session_key = $1",
		"UPDATE " + quoteTable(sessions) + " SET expires = NULL WHERE session_key = $1",
		"UPDATE " + quoteTable(sessions) + " SET version = NULL WHERE session_key = $1",
		"UPDATE " + quoteTable(fields) + " SET name = NULL WHERE session_key = $1",
		"UPDATE " + quoteTable(fields) + " SET value = NULL WHERE session_key = $1",
	} {
		_, err := pool.Exec(ctx, q, key)
		var pgErr *pgconn.PgError
		require.Truef(t, errors.As(err, &pgErr), "%s: %v", q, err)
		assert.Equal(t, "23502", pgErr.Code, "%s: not_null_violation", q)
	}
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Fields)
}

// TestToleratedRows: damage the store reads through. A field row named ""
// (no store writes one) is left out of Load, of the size limit and of the
// expectations, and Move leaves it behind; an owner of "" reads as none
// and Move writes it as none; finite times at the ends of the timestamptz
// range load as they are and Move keeps them. Delete removes all of it.
// Under both query protocols.
func TestToleratedRows(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool := newPool(t, cfg)
			sessions, fields, tables := testTables(t)
			s := newTestStore(t, pool, tables, WithCleanupInterval(0))
			t.Run("EmptyFieldName", func(t *testing.T) { emptyFieldName(t, s, pool, sessions, fields) })
			t.Run("EmptyOwner", func(t *testing.T) { emptyOwner(t, s, pool, sessions) })
			t.Run("ExtremeTimes", func(t *testing.T) { extremeTimes(t, s, pool, sessions) })
		})
	}
}

// emptyFieldName is TestToleratedRows for a field row named "".
func emptyFieldName(t *testing.T, s *Store, pool *pgxpool.Pool, sessions, fields string) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	_, err := pool.Exec(ctx, "INSERT INTO "+quoteTable(fields)+" (session_key, name, value) VALUES ($1, '', '\\x0102030405060708090a')", key)
	require.NoError(t, err)

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Fields, "Load leaves the field named \"\" out")
	v, err := s.Version(ctx, key)
	require.NoError(t, err)
	assert.EqualValues(t, 1, v)
	// Not counted by the limit (2 + 4 = 6 fits 6), not seen by an
	// expectation of absence.
	v, err = s.Update(ctx, key, store.Change{
		Set:     map[string][]byte{"b": []byte("1")},
		Expect:  map[string][]byte{"": nil, "a": []byte("1")},
		MaxSize: 4,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 2, v)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("1")}, MaxSize: 5})
	require.ErrorIs(t, err, store.ErrTooLarge, "6 bytes over a limit of 5")

	to := storetest.NewKey(t)
	moved, err := s.Move(ctx, key, to, store.Change{Set: map[string][]byte{"c": []byte("3")}, Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err, "Move")
	want := map[string][]byte{"a": []byte("1"), "b": []byte("1"), "c": []byte("3")}
	assert.Equal(t, want, moved.Fields)
	got, err = s.Load(ctx, to)
	require.NoError(t, err)
	assert.Equal(t, want, got.Fields)
	ns, nf := rowCounts(t, pool, sessions, fields, key)
	assert.Equal(t, [2]int{0, 0}, [2]int{ns, nf}, "rows left under the old key")
	ns, nf = rowCounts(t, pool, sessions, fields, to)
	assert.Equal(t, [2]int{1, 3}, [2]int{ns, nf}, "rows under the new key: the field named \"\" stayed behind")

	// Delete removes a session holding such a row.
	_, err = pool.Exec(ctx, "INSERT INTO "+quoteTable(fields)+" (session_key, name, value) VALUES ($1, '', '\\x00')", to)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, to))
	ns, nf = rowCounts(t, pool, sessions, fields, to)
	assert.Equal(t, [2]int{0, 0}, [2]int{ns, nf}, "rows left after Delete")
}

// emptyOwner is TestToleratedRows for an owner of "" (the store writes
// NULL for none).
func emptyOwner(t *testing.T, s *Store, pool *pgxpool.Pool, sessions string) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
	_, err := pool.Exec(ctx, "UPDATE "+quoteTable(sessions)+" SET owner = '' WHERE session_key = $1", key)
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "", got.Owner)
	to := storetest.NewKey(t)
	moved, err := s.Move(ctx, key, to, store.Change{Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, "", moved.Owner)
	var null bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT owner IS NULL FROM "+quoteTable(sessions)+" WHERE session_key = $1", to).Scan(&null))
	assert.True(t, null, "Move writes no owner as NULL")
	require.NoError(t, s.Delete(ctx, to))
}

// extremeTimes is TestToleratedRows for created times at the ends of the
// timestamptz range: finite, so Create could have written them.
func extremeTimes(t *testing.T, s *Store, pool *pgxpool.Pool, sessions string) {
	ctx := context.Background()
	for _, c := range []struct {
		sql  string
		want time.Time
	}{
		{"4713-01-01 00:00:00+00 BC", time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"294276-12-31 23:59:59.999999+00", time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	} {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		_, err := pool.Exec(ctx, "UPDATE "+quoteTable(sessions)+" SET created = $2::text::timestamptz WHERE session_key = $1", key, c.sql)
		require.NoError(t, err)
		got, err := s.Load(ctx, key)
		require.NoError(t, err, "Load of created %s", c.sql)
		assert.Truef(t, c.want.Equal(got.Created), "created %s loads as %s", c.sql, got.Created.UTC())
		to := storetest.NewKey(t)
		moved, err := s.Move(ctx, key, to, store.Change{Expires: time.Now().Add(time.Hour)})
		require.NoError(t, err, "Move of created %s", c.sql)
		assert.Truef(t, c.want.Equal(moved.Created), "Move returns created %s", moved.Created.UTC())
		var same bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT created = $2::text::timestamptz FROM "+quoteTable(sessions)+" WHERE session_key = $1", to, c.sql).Scan(&same))
		assert.True(t, same, "Move keeps created %s", c.sql)
		require.NoError(t, s.Delete(ctx, to))
	}
}

// TestCleanupCorrupt: damaged rows cannot stop the cleanup. With live
// and damaged sessions in the table (an expiry of 'infinity', which no
// store writes and which would otherwise stay forever, '-infinity', and
// expired rows with an infinite created time or a bad version), the
// background loop and DeleteExpired delete every damaged one and keep
// the live ones.
func TestCleanupCorrupt(t *testing.T) {
	pool := testPool(t)
	sessions, fields, tables := testTables(t)
	manual := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	plantAll := func() (damaged []string, live string) {
		for _, set := range []string{
			`expires = 'infinity'`,
			`expires = '-infinity'`,
			`created = 'infinity', expires = now() - interval '1 second'`,
			`version = -1, expires = now() - interval '1 second'`,
		} {
			damaged = append(damaged, plant(t, manual, pool, sessions, "", set))
		}
		live = storetest.NewKey(t)
		require.NoError(t, manual.Create(ctx, live, enginetest.LiveRecord("a", "1")))
		return damaged, live
	}
	gone := func(keys []string) bool {
		for _, k := range keys {
			if ns, nf := rowCounts(t, pool, sessions, fields, k); ns+nf != 0 {
				return false
			}
		}
		return true
	}

	damaged, live := plantAll()
	n, err := manual.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(len(damaged)))
	assert.True(t, gone(damaged), "damaged rows left by DeleteExpired")
	_, err = manual.Load(ctx, live)
	require.NoError(t, err, "live session after DeleteExpired")

	damaged, live = plantAll()
	newTestStore(t, pool, tables, WithCleanupInterval(20*time.Millisecond))
	require.Eventually(t, func() bool { return gone(damaged) }, 10*time.Second, 10*time.Millisecond,
		"the cleanup loop deletes the damaged rows")
	_, err = manual.Load(ctx, live)
	require.NoError(t, err, "live session after the cleanup loop")
}

// TestUserRecoversFromCorruption: for each corruption, a user whose row
// was damaged can read (and gets a fresh session), sign out and sign in
// through a manager, with no 500.
func TestUserRecoversFromCorruption(t *testing.T) {
	pool := newPool(t, testConfig(t))
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			enginetest.UserRecovers(t, s, func(t *testing.T, key string) {
				tag, err := pool.Exec(context.Background(), "UPDATE "+quoteTable(sessions)+" SET "+c.set+" WHERE session_key = $1", key)
				require.NoError(t, err, "plant %s", c.set)
				require.EqualValues(t, 1, tag.RowsAffected(), "plant %s", c.set)
			})
		})
	}
}
