// Package app is what the two builds of the rolling-deploy test's app
// (testdata/v1 and testdata/v2) share: everything but the session struct
// and the handlers that use it.
//
// A build calls [Main] with its name, its generated options and a
// function that registers its routes. Main then
//
//   - opens the engine the -engine flag names, at the address the test
//     suite's environment variable gives (SESSIONGEN_REDIS_ADDR for redis,
//     SESSIONGEN_POSTGRES_DSN for postgres: no address or password in the
//     command line), under the -name of the test run: Redis keys under the
//     prefix NAME:, PostgreSQL tables NAME_sessions and NAME_fields
//     (created when missing), bus channel NAME_bus;
//   - opens the bus beside it (redisbus on Redis, pgbus on PostgreSQL), so
//     that the processes sharing the engine keep their caches coherent;
//   - makes the session manager with a cookie identity named "sid" and an
//     error reporter that prints one line per report on stderr, starting
//     with [ReportPrefix];
//   - listens on 127.0.0.1:0 and prints the address (host:port) as the
//     only line on stdout, then serves the routes inside the session
//     middleware until SIGINT or SIGTERM, and shuts down cleanly (exit
//     status 0).
//
// Log lines (slog text) go to stderr as well. Every failure at start-up
// exits with status 1 after a line on stderr.
package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// ReportPrefix starts each line the error reporter prints on stderr.
const ReportPrefix = "report: "

// The environment variables naming the servers, as in the test suite.
const (
	// RedisAddrVar holds the Redis address (host:port).
	RedisAddrVar = "SESSIONGEN_REDIS_ADDR"
	// PostgresDSNVar holds the PostgreSQL connection string.
	PostgresDSNVar = "SESSIONGEN_POSTGRES_DSN"
)

// openTimeout bounds connecting to the engine at start-up.
const openTimeout = 30 * time.Second

// Field is one session field in a reply: the getter's value and ok.
type Field struct {
	Value any  `json:"value"`
	OK    bool `json:"ok"`
}

// Reply is the JSON body of every successful response.
type Reply struct {
	// Build names the build that answered ("v1", "v2").
	Build string `json:"build"`
	// Visits is the count AddVisits returned for this request.
	Visits int64 `json:"visits"`
	// Keys are the session's keys after the request's writes, as the
	// runtime sees them: those of every build, not only this one's.
	Keys []string `json:"keys"`
	// Fields are the build's getters after the request's writes, by
	// session key.
	Fields map[string]Field `json:"fields"`
}

// lockedWriter serialises the writes of the logger and the reporter, so
// that their lines never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p under the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Main runs the build named build until SIGINT or SIGTERM and exits:
// opts are the build's generated options (AppSessionOptions()), routes
// registers its handlers. See the package documentation.
func Main(build string, opts []session.Option, routes func(mux *http.ServeMux)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, build, os.Args[1:], opts, routes)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", build, err)
		os.Exit(1)
	}
}

// engine is an opened engine with its bus and what closes them.
type engine struct {
	store store.Store
	bus   bus.Bus
	close func()
}

// run is Main without the exit: it returns an error when the app cannot
// start or stop cleanly.
func run(ctx context.Context, build string, args []string, opts []session.Option, routes func(mux *http.ServeMux)) error {
	fs := flag.NewFlagSet(build, flag.ContinueOnError)
	kind := fs.String("engine", "", "engine: redis or postgres")
	name := fs.String("name", "", "the test run's unique name: Redis key prefix, PostgreSQL table prefix, bus channel")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: %s -engine redis|postgres -name NAME", build)
	}
	stderr := &lockedWriter{w: os.Stderr}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With(slog.String("build", build))

	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	var eng *engine
	var err error
	switch *kind {
	case "redis":
		eng, err = openRedis(octx, *name, log)
	case "postgres":
		eng, err = openPostgres(octx, *name, log)
	default:
		return fmt.Errorf("unknown -engine %q: want redis or postgres", *kind)
	}
	if err != nil {
		return err
	}
	defer eng.close()

	mgr, err := session.New(append(opts,
		session.WithStore(eng.store),
		session.WithBus(eng.bus),
		session.WithIdentities(&identity.Cookie{Name: "sid"}),
		session.WithLogger(log),
		session.WithErrorReporter(func(_ context.Context, err error) {
			// One line per report, whatever the message holds.
			msg := strings.ReplaceAll(err.Error(), "\n", " ")
			fmt.Fprintf(stderr, "%s%s\n", ReportPrefix, msg)
		}),
	)...)
	if err != nil {
		return err
	}
	// Deferred after the engine's close: runs before it.
	defer func() { _ = mgr.Close() }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	routes(mux)
	srv := &http.Server{
		Handler:           mgr.Handler(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The test waits for this line.
	if _, err := fmt.Println(ln.Addr().String()); err != nil {
		return err
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	return srv.Shutdown(sctx)
}

// openRedis opens redisstore and redisbus on the server at
// SESSIONGEN_REDIS_ADDR, under the prefix name+":" and the channel
// name+"_bus".
func openRedis(ctx context.Context, name string, log *slog.Logger) (*engine, error) {
	addr := os.Getenv(RedisAddrVar)
	if addr == "" {
		return nil, fmt.Errorf("%s is not set", RedisAddrVar)
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis at %s: %w", addr, err)
	}
	st, err := redisstore.New(client, redisstore.WithPrefix(name+":"))
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	b, err := redisbus.New(client, redisbus.WithChannel(name+"_bus"), redisbus.WithLogger(log))
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return &engine{store: st, bus: b, close: func() { _ = client.Close() }}, nil
}

// openPostgres opens pgstore (creating its tables NAME_sessions and
// NAME_fields when missing) and pgbus on the database at
// SESSIONGEN_POSTGRES_DSN, the bus on the channel name+"_bus".
func openPostgres(ctx context.Context, name string, log *slog.Logger) (*engine, error) {
	dsn := os.Getenv(PostgresDSNVar)
	if dsn == "" {
		return nil, fmt.Errorf("%s is not set", PostgresDSNVar)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PostgresDSNVar, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	st, err := pgstore.New(ctx, pool, pgstore.WithCreateSchema(true), pgstore.WithTables(name+"_sessions", name+"_fields"))
	if err != nil {
		pool.Close()
		return nil, err
	}
	b, err := pgbus.New(pool, pgbus.WithChannel(name+"_bus"), pgbus.WithApplicationName(name), pgbus.WithLogger(log))
	if err != nil {
		_ = st.Close()
		pool.Close()
		return nil, err
	}
	return &engine{store: st, bus: b, close: func() { _ = st.Close(); pool.Close() }}, nil
}

// Write answers with reply as JSON (status 200), or with status 500 when
// it cannot be encoded.
func Write(w http.ResponseWriter, reply Reply) {
	b, err := json.Marshal(reply)
	if err != nil {
		Fail(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// Fail answers with status and err's message as plain text.
func Fail(w http.ResponseWriter, status int, err error) {
	http.Error(w, err.Error(), status)
}
