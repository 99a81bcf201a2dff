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
// [WithTable] option as to New; other options do not change it. A table
// made by the DDL of an earlier release is brought up to date by
// [Upgrade] instead.
//
// A session is one row: its key, its times in microseconds since the Unix
// epoch (UTC, so no time zone or parseTime setting matters), a version
// bumped by every write, its owner, and its fields as one JSON object.
// Each member name is the base64url (unpadded) field key and each value
// the standard base64 of the field's bytes, so the document is plain ASCII
// whatever the keys hold and whatever the table's character set. The
// owner is kept as its bytes (VARBINARY: compared byte for byte, no
// collation folds case or trailing spaces; NULL for none), at most
// [MaxOwnerLen] of them. The index on expires serves the cleanup and the
// one on owner serves [Store.Owned]. The size column holds the session's
// size as [store.Size] counts it and the seal column a CRC-32 of size and
// data, both written with the data, so that a write checks a sealed row
// without walking its document (see the package documentation). Works on MariaDB (10.6 and later)
// and MySQL (8.0.14 and later): the store walks the JSON document with
// JSON_TABLE.
func Schema(opts ...Option) string {
	return schemaDDL(newConfig(opts).table)
}

// Upgrade returns the DDL that brings a table made by an earlier release's
// [Schema] up to date, for a migration. Pass the same [WithTable] option
// as to New. It adds what the table lacks: the owner column (NULL, no
// owner, for existing sessions) and its index, and the size and seal
// columns (NULL: existing sessions get the full check until their next
// Update seals them); the version column exists already. Run it once,
// before processes of this release start; processes of the earlier
// release may go on meanwhile, as they leave the new columns alone (a row
// they write no longer matches its seal, so it gets the full check).
// [WithCreateSchema] does the same by itself for whatever is missing.
// The DDL uses ADD COLUMN IF NOT EXISTS, which MariaDB has and MySQL
// does not: on MySQL, leave out the clauses of the columns and key the
// table has, or use WithCreateSchema. InnoDB builds the index online:
// reads and writes of sessions go on while it runs.
func Upgrade(opts ...Option) string {
	return upgradeDDL(newConfig(opts).table)
}

// schemaDDL renders the DDL for the table.
func schemaDDL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + quoteTable(table) + ` (
	session_key VARBINARY(255) NOT NULL,
	created     BIGINT         NOT NULL,
	expires     BIGINT         NOT NULL,
	version     BIGINT         NOT NULL,
	owner       VARBINARY(255) NULL,
	data        JSON           NOT NULL,
	size        BIGINT         NULL,
	seal        BIGINT         NULL,
	PRIMARY KEY (session_key),
	KEY expires_idx (expires),
	KEY owner_idx (owner)
) ENGINE=InnoDB`
}

// upgradeDDL renders the ALTER TABLE adding the owner column and index
// and the size and seal columns, each only when missing.
func upgradeDDL(table string) string {
	return `ALTER TABLE ` + quoteTable(table) + `
	ADD COLUMN IF NOT EXISTS owner VARBINARY(255) NULL,
	ADD KEY IF NOT EXISTS owner_idx (owner),
	ADD COLUMN IF NOT EXISTS size BIGINT NULL,
	ADD COLUMN IF NOT EXISTS seal BIGINT NULL`
}

// addColumnDDL renders the ALTER TABLE adding column (and its index, for
// the owner) to a table of an earlier release, for servers without IF
// NOT EXISTS in ALTER TABLE.
func addColumnDDL(table, column string) string {
	add := map[string]string{
		"owner": "ADD COLUMN owner VARBINARY(255) NULL, ADD KEY owner_idx (owner)",
		"size":  "ADD COLUMN size BIGINT NULL",
		"seal":  "ADD COLUMN seal BIGINT NULL",
	}[column]
	return `ALTER TABLE ` + quoteTable(table) + ` ` + add
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

// createSchema creates the table if it does not exist, and adds what a
// table of an earlier release lacks: the owner column and its index, the
// size column and the seal column, each looked for first (MySQL has no
// ADD COLUMN IF NOT EXISTS). Two processes upgrading at once are fine:
// the one that comes second fails with a duplicate column or key, which
// counts as done.
func createSchema(ctx context.Context, db *sql.DB, table string) error {
	if _, err := db.ExecContext(ctx, schemaDDL(table)); err != nil {
		return err
	}
	for _, column := range []string{"owner", "size", "seal"} {
		if err := addMissing(ctx, db, table, column); err != nil {
			return err
		}
	}
	return nil
}

// addMissing adds column to table when it has none by that name.
func addMissing(ctx context.Context, db *sql.DB, table, column string) error {
	rows, err := db.QueryContext(ctx, `SELECT `+column+` FROM `+quoteTable(table)+` WHERE 1 = 0`)
	if err == nil {
		return rows.Close()
	}
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) || myErr.Number != 1054 { // ER_BAD_FIELD_ERROR
		return err
	}
	_, err = db.ExecContext(ctx, addColumnDDL(table, column))
	if errors.As(err, &myErr) && (myErr.Number == 1060 || myErr.Number == 1061) {
		// ER_DUP_FIELDNAME, ER_DUP_KEYNAME: another process was first.
		return nil
	}
	return err
}

// checkSchema verifies that the table exists with the columns the store
// uses, so a missing migration shows up in New rather than on the first
// request.
func checkSchema(ctx context.Context, db *sql.DB, table string) error {
	rows, err := db.QueryContext(ctx, `SELECT session_key, created, expires, version, owner, data, size, seal FROM `+quoteTable(table)+` WHERE 1 = 0`)
	if err == nil {
		err = rows.Close()
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && (myErr.Number == 1146 || myErr.Number == 1054) {
		// ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR
		return fmt.Errorf("%w (create the table with the DDL from mysqlstore.Schema, bring a table of an earlier release up to date with mysqlstore.Upgrade, or pass WithCreateSchema(true))", err)
	}
	return err
}
