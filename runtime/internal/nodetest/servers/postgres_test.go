package servers

import (
	"context"
	"github.com/sessiongen/sessiongen/runtime/internal/nodetest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
)

// postgresDSNVar names the environment variable with the PostgreSQL
// connection string.
const postgresDSNVar = "SESSIONGEN_POSTGRES_DSN"

// postgresEnv is pgstore + pgbus on the database at
// SESSIONGEN_POSTGRES_DSN; the test is skipped when it is unset and fails
// when the server does not answer.
func postgresEnv(t testing.TB) nodetest.Env {
	t.Helper()
	dsn := os.Getenv(postgresDSNVar)
	if dsn == "" {
		t.Skip(postgresDSNVar + " is not set: skipping the PostgreSQL nodes (pgstore + pgbus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("%s: %v", postgresDSNVar, err)
	}
	t.Cleanup(admin.Close)
	if err := admin.Ping(ctx); err != nil {
		t.Fatalf("%s: PostgreSQL does not answer: %v", postgresDSNVar, err)
	}
	return nodetest.Env{Name: "postgres", Open: func(t testing.TB) nodetest.Backend {
		name := nodetest.Unique("nodetest_")
		sessions, fields := name+"_sessions", name+"_fields"
		channel, app := name+"_bus", name+"_bus"
		t.Cleanup(func() {
			_, err := admin.Exec(context.Background(), `DROP TABLE IF EXISTS "`+fields+`", "`+sessions+`" CASCADE`)
			if err != nil {
				t.Logf("cleanup: %v", err)
			}
		})
		return nodetest.Backend{
			Node: func(t testing.TB, _ int) (store.Store, bus.Bus) {
				pool, err := pgxpool.New(context.Background(), dsn)
				require.NoError(t, err)
				st, err := pgstore.New(context.Background(), pool, pgstore.WithCreateSchema(true), pgstore.WithTables(sessions, fields))
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close(); pool.Close() })
				b, err := pgbus.New(pool, pgbus.WithChannel(channel), pgbus.WithApplicationName(app))
				require.NoError(t, err)
				return st, b
			},
			Outage: func(t testing.TB) func() {
				var killed int
				err := admin.QueryRow(context.Background(),
					`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k`, app).Scan(&killed)
				require.NoError(t, err)
				require.GreaterOrEqual(t, killed, len(nodetest.NodeNames), "every node's listener was terminated")
				return func() {}
			},
		}
	}}
}

func TestPostgres(t *testing.T) {
	nodetest.Run(t, postgresEnv(t))
}
