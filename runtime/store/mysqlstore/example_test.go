package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"

	_ "github.com/go-sql-driver/mysql"
	"github.com/sessiongen/sessiongen/runtime/store/mysqlstore"
)

// A store on a database/sql handle, creating its table on first start. In
// production, run the DDL from mysqlstore.Schema in a migration and leave
// WithCreateSchema out. Pass the store to the session manager with
// session.WithStore.
func ExampleNew() {
	ctx := context.Background()
	db, err := sql.Open("mysql", os.Getenv("MYSQL_DSN")) // e.g. user:pass@tcp(db:3306)/app
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	s, err := mysqlstore.New(ctx, db, mysqlstore.WithCreateSchema(true))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // stops the cleanup goroutine; before db.Close
	_ = s
}

// The DDL to put in a migration, for a custom table name.
func ExampleSchema() {
	fmt.Println(mysqlstore.Schema(mysqlstore.WithTable("auth.sessions")))
	// Output:
	// CREATE TABLE IF NOT EXISTS `auth`.`sessions` (
	// 	session_key VARBINARY(255) NOT NULL,
	// 	created     BIGINT         NOT NULL,
	// 	expires     BIGINT         NOT NULL,
	// 	version     BIGINT         NOT NULL,
	// 	owner       VARBINARY(255) NULL,
	// 	data        JSON           NOT NULL,
	// 	size        BIGINT         NULL,
	// 	seal        BIGINT         NULL,
	// 	PRIMARY KEY (session_key),
	// 	KEY expires_idx (expires),
	// 	KEY owner_idx (owner)
	// ) ENGINE=InnoDB
}

// The DDL that upgrades a table made by an earlier release, for a
// migration on MariaDB.
func ExampleUpgrade() {
	fmt.Println(mysqlstore.Upgrade())
	// Output:
	// ALTER TABLE `sessiongen_sessions`
	// 	ADD COLUMN IF NOT EXISTS owner VARBINARY(255) NULL,
	// 	ADD KEY IF NOT EXISTS owner_idx (owner),
	// 	ADD COLUMN IF NOT EXISTS size BIGINT NULL,
	// 	ADD COLUMN IF NOT EXISTS seal BIGINT NULL
}
