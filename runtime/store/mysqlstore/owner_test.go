package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

func TestVersioner(t *testing.T) {
	db := testDB(t)
	table := tableOpt(t)
	newTestStore(t, db, table, WithCreateSchema(true))
	storetest.RunVersioner(t, func(t *testing.T) store.Store {
		return newTestStore(t, db, table)
	})
}

func TestOwnerIndex(t *testing.T) {
	db := testDB(t)
	table := tableOpt(t)
	newTestStore(t, db, table, WithCreateSchema(true))
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store {
		return newTestStore(t, db, table)
	})
}

// TestIndexBounded: the owner index holds a row per session with the
// owner, expired ones included, until the cleanup deletes them.
func TestIndexBounded(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	storetest.IndexBounded(t, s, func(owner string) int {
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM "+quoteTable(table)+" WHERE owner = ?", []byte(owner)).Scan(&n))
		return n
	})
}

// TestOwnerLimits: owners up to MaxOwnerLen bytes of text are kept; longer
// ones, invalid UTF-8 and NUL bytes are refused.
func TestOwnerLimits(t *testing.T) {
	s := newTestStore(t, testDB(t), tableOpt(t), WithCreateSchema(true))
	enginetest.SQLOwnerLimits(t, "mysqlstore", s, MaxOwnerLen)
}

// TestOwnedUsesIndex: on a table of many sessions, the query behind Owned
// reads the owner index, not the whole table.
func TestOwnedUsesIndex(t *testing.T) {
	cfg := testConfig(t)
	cfg.InterpolateParams = true // EXPLAIN with the arguments in the text
	db := newDB(t, cfg)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	const n = 8000
	expires := time.Now().Add(time.Hour).UnixMicro()
	var b strings.Builder
	args := make([]any, 0, 3*n)
	b.WriteString("INSERT INTO " + quoteTable(table) + " (session_key, created, expires, version, owner, data) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		// created 1: a created time of 0 is corrupt.
		b.WriteString("(?, 1, ?, 1, ?, '{}')")
		var owner any // a quarter of the sessions have none
		if i%4 != 0 {
			owner = []byte(fmt.Sprintf("owner%d", i%1000))
		}
		args = append(args, fmt.Sprintf("k%06d", i), expires, owner)
	}
	_, err := db.ExecContext(ctx, b.String(), args...)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "ANALYZE TABLE "+quoteTable(table))
	require.NoError(t, err)

	rows, err := db.QueryContext(ctx, "EXPLAIN "+newQueries(table).owned, []byte("owner7"), time.Now().UnixMicro())
	require.NoError(t, err)
	plan := explainRows(t, rows)
	// One row for the table; the others are the per-row check of the
	// data document (a dependent subquery over JSON_TABLE).
	var sessions []map[string]string
	for _, step := range plan {
		if step["table"] == table {
			sessions = append(sessions, step)
		} else {
			assert.Equal(t, "DEPENDENT SUBQUERY", step["select_type"], "plan: %v", plan)
		}
	}
	require.Len(t, sessions, 1, "plan: %v", plan)
	assert.Equal(t, "owner_idx", sessions[0]["key"], "plan: %v", plan)
	assert.NotEqual(t, "ALL", sessions[0]["type"], "plan: %v", plan)

	owned, err := s.Owned(ctx, "owner7")
	require.NoError(t, err)
	assert.Len(t, owned, n/1000, "sessions of owner7 among the %d", n)
}

// explainRows reads EXPLAIN's rows as column name to text.
func explainRows(t *testing.T, rows *sql.Rows) []map[string]string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestIndexFollowsRows: the owner index is the owner column, so its
// entries go with their rows: a Delete, an owner change and the cleanup
// of expired sessions leave no row under the old owner.
func TestIndexFollowsRows(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	enginetest.SQLIndexFollowsRows(t, s, func(owner string) int {
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM "+quoteTable(table)+" WHERE owner = ?", []byte(owner)).Scan(&n))
		return n
	})
}

// v1Schema is the DDL of the release before owners, and v2Schema that of
// the release before sealed rows, to show that Upgrade brings such
// tables up to date.
func v1Schema(table string) string {
	return `CREATE TABLE ` + quoteTable(table) + ` (
	session_key VARBINARY(255) NOT NULL,
	created     BIGINT         NOT NULL,
	expires     BIGINT         NOT NULL,
	version     BIGINT         NOT NULL,
	data        JSON           NOT NULL,
	PRIMARY KEY (session_key),
	KEY expires_idx (expires)
) ENGINE=InnoDB`
}

// v2Schema: see [v1Schema].
func v2Schema(table string) string {
	return `CREATE TABLE ` + quoteTable(table) + ` (
	session_key VARBINARY(255) NOT NULL,
	created     BIGINT         NOT NULL,
	expires     BIGINT         NOT NULL,
	version     BIGINT         NOT NULL,
	owner       VARBINARY(255) NULL,
	data        JSON           NOT NULL,
	PRIMARY KEY (session_key),
	KEY expires_idx (expires),
	KEY owner_idx (owner)
) ENGINE=InnoDB`
}

// TestUpgrade: a table of an earlier release, holding a session at
// version 3, is refused by New with a hint, and works once upgraded by
// the DDL from Upgrade or by WithCreateSchema. The old session keeps its
// fields and version, has no owner, joins the owner index when it gets
// an owner, and is sealed by that Update.
func TestUpgrade(t *testing.T) {
	for _, layout := range []struct {
		name string
		ddl  func(string) string
	}{{"v1", v1Schema}, {"v2", v2Schema}} {
		for _, how := range []string{"Upgrade", "WithCreateSchema"} {
			t.Run(layout.name+"/"+how, func(t *testing.T) {
				db := testDB(t)
				ctx := context.Background()
				table, opt := testTable(t)
				_, err := db.ExecContext(ctx, layout.ddl(table))
				require.NoError(t, err)
				key := storetest.NewKey(t)
				_, err = db.ExecContext(ctx, "INSERT INTO "+quoteTable(table)+" (session_key, created, expires, version, data) VALUES (?, ?, ?, 3, ?)",
					key, time.Now().UnixMicro(), time.Now().Add(time.Hour).UnixMicro(), encodeFields(map[string][]byte{"a": []byte("1")}))
				require.NoError(t, err)

				_, err = New(ctx, db, opt)
				require.ErrorContains(t, err, "mysqlstore.Upgrade", "New on an old table")

				if how == "Upgrade" {
					_, err = db.ExecContext(ctx, Upgrade(opt))
					require.NoError(t, err, "migration")
				} else {
					newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
					// A second process starting later finds the columns there.
				}
				s := newTestStore(t, db, opt, WithCreateSchema(how != "Upgrade"), WithCleanupInterval(0))
				enginetest.SQLUpgraded(t, s, key, 3)
				requireSealed(t, s, db, table, key, "the upgraded session after an Update")
			})
		}
	}
}
