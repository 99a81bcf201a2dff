package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Schema returns the DDL for the store's table, for a migration: run it
// once before using [New] without [WithCreateSchema]. Pass the same
// [WithTable] option as to New; other options do not change it.
//
// A session is one row: its key, its times in microseconds since the Unix
// epoch (UTC, so no time zone or parseTime setting matters), a version
// bumped by every write, and its fields as one JSON object. Each member
// name is the base64url (unpadded) field key and each value the standard
// base64 of the field's bytes, so the document is plain ASCII whatever the
// keys hold and whatever the table's character set. The index on expires
// serves the cleanup. Works on MariaDB (10.2.25 and later) and MySQL (8.0
// and later).
func Schema(opts ...Option) string {
	return schemaDDL(newConfig(opts).table)
}

// schemaDDL renders the DDL for the table.
func schemaDDL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + quoteTable(table) + ` (
	session_key VARBINARY(255) NOT NULL,
	created     BIGINT         NOT NULL,
	expires     BIGINT         NOT NULL,
	version     BIGINT         NOT NULL,
	data        JSON           NOT NULL,
	PRIMARY KEY (session_key),
	KEY expires_idx (expires)
) ENGINE=InnoDB`
}

// quoteTable quotes a possibly database-qualified table name.
func quoteTable(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(parts, ".")
}

// checkTableName refuses names that cannot be quoted into a valid
// identifier.
func checkTableName(name string) error {
	if name == "" {
		return errors.New("empty table name")
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || strings.IndexByte(part, 0) >= 0 || strings.HasSuffix(part, " ") {
			return fmt.Errorf("invalid table name %q", name)
		}
	}
	return nil
}

// createSchema creates the table if it does not exist.
func createSchema(ctx context.Context, db *sql.DB, table string) error {
	_, err := db.ExecContext(ctx, schemaDDL(table))
	return err
}

// checkSchema verifies that the table exists with the columns the store
// uses, so a missing migration shows up in New rather than on the first
// request.
func checkSchema(ctx context.Context, db *sql.DB, table string) error {
	rows, err := db.QueryContext(ctx, `SELECT session_key, created, expires, version, data FROM `+quoteTable(table)+` WHERE 1 = 0`)
	if err == nil {
		err = rows.Close()
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && (myErr.Number == 1146 || myErr.Number == 1054) {
		// ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR
		return fmt.Errorf("%w (create the table with the DDL from mysqlstore.Schema, or pass WithCreateSchema(true))", err)
	}
	return err
}
