package bench

import (
	"os"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// BenchmarkPopulation serves reads on a population of sessions ten times
// the size of sessiongen's cache: P sessions (1,000,000; 10,000 with
// -short or -benchtime 1x; $SESSIONGEN_BENCH_POPULATION overrides both)
// seeded straight into the engine for each library, each holding n = 42,
// and sessiongen's cache limited to P/10. 32 concurrent clients each draw
// the session of every request from a Zipf distribution (s = 1.1) over
// the P sessions, popularity uncorrelated with the order of seeding.
// After P/2 untimed requests, b.N requests are timed. Reported: req/s,
// engine round trips (rtt/op, counted as in BenchmarkRedis and
// BenchmarkPostgres) and engine calls (calls/op: the manager's Stats for
// sessiongen, the calls of scs to its store) per request, and
// sessiongen's cache hit ratio over the timed requests (hit%). The seeded
// sessions are deleted at the end.
//
// A full run seeds millions of records and takes minutes per engine (on
// two cores: about 3 on Redis, 6 on PostgreSQL, mostly seeding and
// warming scs up), more than go test's default timeout for the whole
// module:
//
//	cd bench && go test -run '^$' -bench 'Population|CachePolicy' -timeout 30m
func BenchmarkPopulation(b *testing.B) {
	p := population(b)
	limit := p / cacheFraction
	b.Run("Redis", func(b *testing.B) {
		e := newRedisEnv(b)
		// Registered after the environment's cleanup, so it runs first
		// and that one finds nothing left to collect.
		b.Cleanup(func() { e.unlinkPrefix(b) })
		st, err := redisstore.New(e.client, redisstore.WithPrefix(e.prefix+"sg:"))
		if err != nil {
			b.Fatalf("redisstore.New: %v", err)
		}
		theirs := scsredis.NewWithPrefix(e.pool, e.prefix+"scs:")
		libs := []popLib{
			populationSessiongen(b, st, st, e.ours, p, limit),
			populationSCS(b, theirs, theirs, e.theirs, p),
		}
		runPopulation(b, libs, p)
	})
	b.Run("Postgres", func(b *testing.B) {
		e := newPostgresEnv(b) // its schema, and the rows in it, are dropped at cleanup
		seed := e.seedPool(b)
		st := e.pgstore(b, e.pool)
		stop := e.analyzeWhileSeeding(b)
		libs := []popLib{
			populationSessiongen(b, st, e.pgstore(b, seed), e.rt, p, limit),
			populationSCS(b, pgxstore.NewWithCleanupInterval(e.pool, 0), pgxstore.NewWithCleanupInterval(seed, 0), e.rt, p),
		}
		stop()
		runPopulation(b, libs, p)
	})
}

// pgstore returns sessiongen's engine on pool, with the tables of
// postgresEnv.sessiongen.
func (e *postgresEnv) pgstore(tb testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	tb.Helper()
	st, err := pgstore.New(background, pool,
		pgstore.WithTables(e.schema+".sg_sessions", e.schema+".sg_fields"),
		pgstore.WithCreateSchema(true),
		pgstore.WithCleanupInterval(0))
	if err != nil {
		tb.Fatalf("pgstore.New: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// seedPool returns a second pool on the environment's database and
// schema, not counted, whose transactions do not wait for their commit
// record to reach the disk (synchronous_commit off): the engines' own
// writes, without a WAL flush each, seed a population in a fraction of
// the time. A crash could lose the last of them, which a benchmark that
// checks its sessions before timing would notice; nothing else differs.
func (e *postgresEnv) seedPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(os.Getenv(postgresDSNEnv))
	if err != nil {
		tb.Fatalf("%s: %v", postgresDSNEnv, err)
	}
	cfg.MaxConns = clients
	cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(background, cfg)
	if err != nil {
		tb.Fatalf("%s: %v", postgresDSNEnv, err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// analyzeInterval is how often analyzeWhileSeeding refreshes the
// planner's statistics.
const analyzeInterval = 2 * time.Second

// analyzeWhileSeeding runs ANALYZE on the environment's tables every
// analyzeInterval until stop is called, and once more then, as
// autovacuum would after a bulk load. A server with autovacuum off (as
// on the benchmark machine) keeps no statistics of tables it has never
// analyzed, so a statement prepared while the table was small keeps the
// plan chosen then (a scan of the whole table, cheapest on a few pages):
// each write of a growing population would scan it all. An ANALYZE
// makes every connection plan its statements again.
func (e *postgresEnv) analyzeWhileSeeding(tb testing.TB) (stop func()) {
	tb.Helper()
	analyze := func() error {
		_, err := e.pool.Exec(background, "ANALYZE "+e.schema+".sg_sessions, "+e.schema+".sg_fields, "+e.schema+".sessions")
		return err
	}
	done, exited := make(chan struct{}), make(chan error, 1)
	go func() {
		t := time.NewTicker(analyzeInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				exited <- nil
				return
			case <-t.C:
				if err := analyze(); err != nil {
					exited <- err
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		if err := <-exited; err != nil {
			tb.Fatalf("postgres: analyze while seeding: %v", err)
		}
		if err := analyze(); err != nil {
			tb.Fatalf("postgres: analyze after seeding: %v", err)
		}
	}
}

// unlinkPrefix deletes the keys under the environment's prefix, a SCAN
// page at a time (the environment's own cleanup collects every key
// before it deletes any, which a population of millions makes heavy).
func (e *redisEnv) unlinkPrefix(tb testing.TB) {
	var cursor uint64
	for {
		keys, next, err := e.client.Scan(background, cursor, e.prefix+"*", 10_000).Result()
		if err != nil {
			tb.Errorf("redis cleanup: scan: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := e.client.Unlink(background, keys...).Err(); err != nil {
				tb.Errorf("redis cleanup: unlink: %v", err)
				return
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}
