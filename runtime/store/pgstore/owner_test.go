package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

func TestVersioner(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	storetest.RunVersioner(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables)
	})
}

func TestOwnerIndex(t *testing.T) {
	pool := testPool(t)
	tables := tableOpt(t)
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store {
		return newTestStore(t, pool, tables)
	})
}

// TestIndexBounded: the owner index holds a row per session with the
// owner, expired ones included, until the cleanup deletes them.
func TestIndexBounded(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	storetest.IndexBounded(t, s, func(owner string) int {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(),
			"SELECT count(*) FROM "+quoteTable(sessions)+" WHERE owner = $1", owner).Scan(&n))
		return n
	})
}

// TestOwnerLimits: owners up to MaxOwnerLen bytes of text are kept; longer
// ones, invalid UTF-8 and NUL bytes are refused.
func TestOwnerLimits(t *testing.T) {
	s := newTestStore(t, testPool(t), tableOpt(t))
	enginetest.SQLOwnerLimits(t, "pgstore", s, MaxOwnerLen)
}

// TestOwnedUsesIndex: on a table of many sessions, the query behind Owned
// is planned as a scan of the owner index, not of the table.
func TestOwnedUsesIndex(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO `+quoteTable(sessions)+` (session_key, created, expires, owner)
SELECT 'k' || g, now(), now() + interval '1 hour', CASE WHEN g % 4 = 0 THEN NULL ELSE 'owner' || (g % 2000) END
FROM generate_series(1, 20000) AS g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "ANALYZE "+quoteTable(sessions))
	require.NoError(t, err)

	// The simple protocol puts the arguments in the text, as a custom
	// plan would see them.
	rows, err := pool.Query(ctx, "EXPLAIN "+s.q.owned, pgx.QueryExecModeSimpleProtocol, "owner7", time.Now())
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	assert.Contains(t, plan, lastPart(sessions)+"_owner_idx", "plan:\n%s", plan)
	assert.NotContains(t, plan, "Seq Scan", "plan:\n%s", plan)

	owned, err := s.Owned(ctx, "owner7")
	require.NoError(t, err)
	assert.Len(t, owned, 10, "sessions of owner7 among the 20000")
}

// TestIndexFollowsRows: the owner index is the owner column, so its
// entries go with their rows: a Delete, an owner change and the cleanup
// of expired sessions leave no row under the old owner.
func TestIndexFollowsRows(t *testing.T) {
	pool := testPool(t)
	sessions, _, tables := testTables(t)
	s := newTestStore(t, pool, tables, WithCleanupInterval(0))
	enginetest.SQLIndexFollowsRows(t, s, func(owner string) int {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM "+quoteTable(sessions)+" WHERE owner = $1", owner).Scan(&n))
		return n
	})
}

// v1Schema is the DDL of the release before versions and owners, to show
// that Upgrade brings such tables up to date.
func v1Schema(sessions, fields string) string {
	s, f := quoteTable(sessions), quoteTable(fields)
	return `CREATE TABLE ` + s + ` (
	session_key text        NOT NULL PRIMARY KEY,
	created     timestamptz NOT NULL,
	expires     timestamptz NOT NULL
);
CREATE INDEX ON ` + s + ` (expires);
CREATE TABLE ` + f + ` (
	session_key text  NOT NULL REFERENCES ` + s + ` (session_key) ON DELETE CASCADE,
	name        text  NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (session_key, name)
);`
}

// TestUpgrade: tables of the previous release, holding a session, are
// refused by New with a hint, and work once upgraded by the DDL from
// Upgrade (run twice, as a migration tool might) or by WithCreateSchema.
// The old session keeps its fields, has version 1 and no owner, and joins
// the owner index when it gets an owner.
func TestUpgrade(t *testing.T) {
	for _, how := range []string{"Upgrade", "WithCreateSchema"} {
		t.Run(how, func(t *testing.T) {
			pool := testPool(t)
			ctx := context.Background()
			sessions, fields, tables := testTables(t)
			_, err := pool.Exec(ctx, v1Schema(sessions, fields))
			require.NoError(t, err)
			key := storetest.NewKey(t)
			_, err = pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ($1, now(), now() + interval '1 hour')`, quoteTable(sessions)), key)
			require.NoError(t, err)
			_, err = pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ($1, 'a', '\x31')`, quoteTable(fields)), key)
			require.NoError(t, err)

			_, err = New(ctx, pool, tables)
			require.ErrorContains(t, err, "pgstore.Upgrade", "New on old tables")

			var s *Store
			if how == "Upgrade" {
				for range 2 {
					_, err = pool.Exec(ctx, Upgrade(tables))
					require.NoError(t, err, "migration")
				}
				s, err = New(ctx, pool, tables, WithCleanupInterval(0))
				require.NoError(t, err, "New after the migration")
				t.Cleanup(func() { require.NoError(t, s.Close()) })
			} else {
				s = newTestStore(t, pool, tables, WithCreateSchema(true))
			}
			enginetest.SQLUpgraded(t, s, key, 1)
		})
	}
}
