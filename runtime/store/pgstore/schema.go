package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaLockID is the advisory lock key that serialises schema creation
// between processes starting at once ("sessiongen" in ASCII, truncated).
const schemaLockID int64 = 0x73657373696f6e67

// Schema returns the DDL for the store's tables, for a migration: run it
// once before using [New] without [WithCreateSchema]. Pass the same
// [WithTables] option as to New; other options do not change it. Tables
// made by the DDL of an earlier release are brought up to date by
// [Upgrade] instead.
//
// Sessions live in one table keyed by the engine key (created, expires,
// version, owner), and their fields in another, one row per field, so an
// update writes only the fields it changes. Deleting a session row deletes
// its fields by the foreign key's ON DELETE CASCADE. The index on expires
// serves the cleanup; the partial index on owner serves
// [Store.Owned] and holds only sessions that have an owner. The database
// must use the UTF8 encoding (field names and owners are text).
func Schema(opts ...Option) string {
	c := newConfig(opts)
	return schemaDDL(c.sessionsTable, c.fieldsTable)
}

// Upgrade returns the DDL that brings tables made by an earlier release's
// [Schema] (sessions without the version and owner columns) up to date,
// for a migration. Pass the same [WithTables] option as to New. It adds
// the two columns (existing sessions get version 1 and no owner; with a
// constant default PostgreSQL 11 and later add a column without
// rewriting the table) and the owner index, and is safe to run more than
// once. Run it before processes of this release start; processes of the
// earlier release neither bump versions nor keep owners, so do not run
// both against the same tables. [WithCreateSchema] runs it by itself.
// CREATE INDEX blocks writes to the table while it builds the index; on a
// large table in use, build it first with CREATE INDEX CONCURRENTLY (same
// name and definition, outside a transaction), and the statement here
// finds it done.
func Upgrade(opts ...Option) string {
	c := newConfig(opts)
	return alterDDL(c.sessionsTable) + ownerIndexDDL(c.sessionsTable)
}

// schemaDDL renders the DDL for the two tables.
func schemaDDL(sessions, fields string) string {
	s := quoteTable(sessions)
	f := quoteTable(fields)
	idx := pgx.Identifier{lastPart(sessions) + "_expires_idx"}.Sanitize()
	return `CREATE TABLE IF NOT EXISTS ` + s + ` (
	session_key text        NOT NULL PRIMARY KEY,
	created     timestamptz NOT NULL,
	expires     timestamptz NOT NULL,
	version     bigint      NOT NULL DEFAULT 1,
	owner       text
);
CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + s + ` (expires);
` + ownerIndexDDL(sessions) + `CREATE TABLE IF NOT EXISTS ` + f + ` (
	session_key text  NOT NULL REFERENCES ` + s + ` (session_key) ON DELETE CASCADE,
	name        text  NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (session_key, name)
);
`
}

// alterDDL renders the statement adding the columns of this release to a
// sessions table of an earlier one; it does nothing when the table is
// missing or already has them.
func alterDDL(sessions string) string {
	return `ALTER TABLE IF EXISTS ` + quoteTable(sessions) + `
	ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,
	ADD COLUMN IF NOT EXISTS owner   text;
`
}

// ownerIndexDDL renders the partial index on owner.
func ownerIndexDDL(sessions string) string {
	idx := pgx.Identifier{lastPart(sessions) + "_owner_idx"}.Sanitize()
	return `CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + quoteTable(sessions) + ` (owner) WHERE owner IS NOT NULL;
`
}

// quoteTable quotes a possibly schema-qualified table name.
func quoteTable(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// lastPart returns the table name without its schema.
func lastPart(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}

// checkTableName refuses names that cannot be quoted into a valid
// identifier.
func checkTableName(name string) error {
	if name == "" {
		return errors.New("empty table name")
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || strings.IndexByte(part, 0) >= 0 {
			return fmt.Errorf("invalid table name %q", name)
		}
	}
	return nil
}

// createSchema runs the DDL in one transaction under an advisory lock, so
// two processes starting together do not race on CREATE ... IF NOT EXISTS.
func createSchema(ctx context.Context, pool *pgxpool.Pool, c config) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockID); err != nil {
			return err
		}
		// Tables of an earlier release are upgraded first, so the owner
		// index finds its column. The ALTER runs only when a column is
		// missing: even when it adds nothing it takes a lock that would
		// stall every request to the table behind running transactions.
		var have int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attname IN ('version', 'owner') AND NOT attisdropped`,
			quoteTable(c.sessionsTable)).Scan(&have)
		if err != nil {
			return err
		}
		ddl := schemaDDL(c.sessionsTable, c.fieldsTable)
		if have < 2 {
			ddl = alterDDL(c.sessionsTable) + ddl
		}
		// Without arguments Exec uses the simple protocol, which runs
		// several statements in one call.
		_, err = tx.Exec(ctx, ddl)
		return err
	})
}

// checkSchema verifies that the tables exist with the columns the store
// uses, so a missing migration shows up in New rather than on the first
// request.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, c config) error {
	q := `SELECT s.session_key, s.created, s.expires, s.version, s.owner, f.name, f.value FROM ` +
		quoteTable(c.sessionsTable) + ` s JOIN ` + quoteTable(c.fieldsTable) +
		` f ON f.session_key = s.session_key WHERE false`
	rows, err := pool.Query(ctx, q)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703") {
		// undefined_table, undefined_column
		return fmt.Errorf("%w (create the tables with the DDL from pgstore.Schema, bring tables of an earlier release up to date with pgstore.Upgrade, or pass WithCreateSchema(true))", err)
	}
	return err
}
