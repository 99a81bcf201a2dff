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
// [WithTables] option as to New; other options do not change it.
//
// Sessions live in one table keyed by the engine key (created, expires),
// and their fields in another, one row per field, so an update writes only
// the fields it changes. Deleting a session row deletes its fields by the
// foreign key's ON DELETE CASCADE. The index on expires serves the
// cleanup. The database must use the UTF8 encoding (field names are text).
func Schema(opts ...Option) string {
	c := newConfig(opts)
	return schemaDDL(c.sessionsTable, c.fieldsTable)
}

// schemaDDL renders the DDL for the two tables.
func schemaDDL(sessions, fields string) string {
	s := quoteTable(sessions)
	f := quoteTable(fields)
	idx := pgx.Identifier{lastPart(sessions) + "_expires_idx"}.Sanitize()
	return `CREATE TABLE IF NOT EXISTS ` + s + ` (
	session_key text        NOT NULL PRIMARY KEY,
	created     timestamptz NOT NULL,
	expires     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + s + ` (expires);
CREATE TABLE IF NOT EXISTS ` + f + ` (
	session_key text  NOT NULL REFERENCES ` + s + ` (session_key) ON DELETE CASCADE,
	name        text  NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (session_key, name)
);
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
		// Without arguments Exec uses the simple protocol, which runs
		// several statements in one call.
		_, err := tx.Exec(ctx, schemaDDL(c.sessionsTable, c.fieldsTable))
		return err
	})
}

// checkSchema verifies that the tables exist with the columns the store
// uses, so a missing migration shows up in New rather than on the first
// request.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, c config) error {
	q := `SELECT s.session_key, s.created, s.expires, f.name, f.value FROM ` +
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
		return fmt.Errorf("%w (create the tables with the DDL from pgstore.Schema, or pass WithCreateSchema(true))", err)
	}
	return err
}
