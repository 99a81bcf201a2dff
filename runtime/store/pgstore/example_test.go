package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
)

// A store on a pool, creating its tables on first start. In production,
// run the DDL from pgstore.Schema in a migration and leave
// WithCreateSchema out. Pass the store to the session manager with
// session.WithStore.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	s, err := pgstore.New(ctx, pool, pgstore.WithCreateSchema(true))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // stops the cleanup goroutine; before pool.Close
	_ = s
}

// The DDL to put in a migration, for custom table names.
func ExampleSchema() {
	fmt.Print(pgstore.Schema(pgstore.WithTables("auth.sessions", "auth.session_fields")))
	// Output:
	// CREATE TABLE IF NOT EXISTS "auth"."sessions" (
	// 	session_key text        NOT NULL PRIMARY KEY,
	// 	created     timestamptz NOT NULL,
	// 	expires     timestamptz NOT NULL,
	// 	version     bigint      NOT NULL DEFAULT 1,
	// 	owner       text
	// );
	// CREATE INDEX IF NOT EXISTS "sessions_expires_idx" ON "auth"."sessions" (expires);
	// CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "auth"."sessions" (owner) WHERE owner IS NOT NULL;
	// CREATE TABLE IF NOT EXISTS "auth"."session_fields" (
	// 	session_key text  NOT NULL REFERENCES "auth"."sessions" (session_key) ON DELETE CASCADE,
	// 	name        text  NOT NULL,
	// 	value       bytea NOT NULL,
	// 	PRIMARY KEY (session_key, name)
	// );
}

// The DDL that upgrades tables made by the previous release, for a
// migration.
func ExampleUpgrade() {
	fmt.Print(pgstore.Upgrade())
	// Output:
	// ALTER TABLE IF EXISTS "sessiongen_sessions"
	// 	ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,
	// 	ADD COLUMN IF NOT EXISTS owner   text;
	// CREATE INDEX IF NOT EXISTS "sessiongen_sessions_owner_idx" ON "sessiongen_sessions" (owner) WHERE owner IS NOT NULL;
}
