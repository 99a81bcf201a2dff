package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
)

// postgresDSNEnv names the variable holding the PostgreSQL connection
// string.
const postgresDSNEnv = "SESSIONGEN_POSTGRES_DSN"

// postgresEnv is a PostgreSQL database prepared for one benchmark or
// test: a schema of its own (dropped at cleanup) holding sessiongen's two
// tables and scs's "sessions" table, and one pool of 32 connections that
// both libraries share, counting its statements.
type postgresEnv struct {
	schema string
	pool   *pgxpool.Pool
	rt     *counter
}

// newPostgresEnv connects to the database named by
// SESSIONGEN_POSTGRES_DSN, skipping when it is unset and failing when it
// does not answer.
func newPostgresEnv(tb testing.TB) *postgresEnv {
	tb.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL comparison", postgresDSNEnv)
	}
	e := &postgresEnv{
		schema: fmt.Sprintf("sgbench_%d_%d", os.Getpid(), time.Now().UnixNano()),
		rt:     &counter{},
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", postgresDSNEnv, err)
	}
	cfg.MaxConns = clients
	// scs's pgxstore always names its table "sessions": the search path
	// puts it in this run's schema.
	cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
	cfg.ConnConfig.Tracer = countingTracer{e.rt}
	ctx, cancel := context.WithTimeout(background, 30*time.Second)
	defer cancel()
	e.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("%s: %v", postgresDSNEnv, err)
	}
	if err := e.pool.Ping(ctx); err != nil {
		e.pool.Close()
		tb.Fatalf("%s: %v", postgresDSNEnv, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(background, 30*time.Second)
		defer cancel()
		if _, err := e.pool.Exec(ctx, "DROP SCHEMA "+e.schema+" CASCADE"); err != nil {
			tb.Errorf("postgres cleanup: %v", err)
		}
		e.pool.Close()
	})
	ddl := []string{
		"CREATE SCHEMA " + e.schema,
		// From scs's pgxstore README.
		`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	}
	for _, q := range ddl {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			tb.Fatalf("postgres setup: %s: %v", q, err)
		}
	}
	return e
}

// sessiongen returns sessiongen on the pgstore engine, with opts.
func (e *postgresEnv) sessiongen(tb testing.TB, opts ...session.Option) lib {
	return e.sessiongenOn(tb, nil, opts...)
}

// alone returns sessiongen on a pgstore without group commit, as
// sessiongen-alone: every write its own transaction, as before grouping.
func (e *postgresEnv) alone(tb testing.TB) lib {
	l := e.sessiongenOn(tb, []pgstore.Option{pgstore.WithMaxGroup(1)})
	l.name = "sessiongen-alone"
	return l
}

// sessiongenOn returns sessiongen on a pgstore with storeOpts.
func (e *postgresEnv) sessiongenOn(tb testing.TB, storeOpts []pgstore.Option, opts ...session.Option) lib {
	tb.Helper()
	st, err := pgstore.New(background, e.pool, append([]pgstore.Option{
		pgstore.WithTables(e.schema+".sg_sessions", e.schema+".sg_fields"),
		pgstore.WithCreateSchema(true),
		pgstore.WithCleanupInterval(0)}, storeOpts...)...)
	if err != nil {
		tb.Fatalf("pgstore.New: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return sessiongenLib(tb, append([]session.Option{session.WithStore(st)}, opts...)...)
}

// scs returns scs on its pgxstore, without its cleanup goroutine.
func (e *postgresEnv) scs() lib {
	return scsLib(pgxstore.NewWithCleanupInterval(e.pool, 0))
}

// countingTracer counts pgx round trips: one per Query, QueryRow or Exec
// and one per batch. (The first use of a statement on a connection also
// prepares it; the benchmarks' warm-up makes that rare.)
type countingTracer struct{ c *counter }

// TraceQueryStart counts one statement.
func (t countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	t.c.roundTrips.Add(1)
	t.c.commands.Add(1)
	return ctx
}

// TraceQueryEnd does nothing.
func (countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts one round trip.
func (t countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	t.c.roundTrips.Add(1)
	return ctx
}

// TraceBatchQuery counts one statement of a batch.
func (t countingTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, _ pgx.TraceBatchQueryData) {
	t.c.commands.Add(1)
}

// TraceBatchEnd does nothing.
func (countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// BenchmarkPostgres compares sessiongen's pgstore (a row per field) with
// scs's pgxstore (a row per session holding the gob blob), sharing one
// pool: serial requests, 32 concurrent readers, and the write sweep from
// 1 to 128 clients, each client on its own session. rtt/op is the statements (or batches) per request.
func BenchmarkPostgres(b *testing.B) {
	e := newPostgresEnv(b)
	libs := []lib{e.sessiongen(b), e.scs()}
	counters := map[string]*counter{"sessiongen": e.rt, "sessiongen-alone": e.rt, "scs": e.rt}
	runLibs(b, libs, counters, true, e.alone(b))
	runOnResponse(b, e.sessiongen(b, session.WithFlushMode(session.OnResponse)), e.rt)
}
