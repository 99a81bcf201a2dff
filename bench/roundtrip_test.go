package bench

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
)

// twoFieldHandler sets "n" and "m" in one request through m's middleware.
func twoFieldHandler(l lib) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := session.FromContext(ctx)
		if err := s.Set(ctx, "n", written.Add(1)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Set(ctx, "m", int64(1)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
}

// roundTrips runs one request and returns the round trips and commands
// the engine saw.
func roundTrips(t *testing.T, c *counter, what string, h http.Handler, req *http.Request) (rtt, cmds int64) {
	t.Helper()
	c.reset()
	serveOnce(t, what, h, req)
	return c.roundTrips.Load(), c.commands.Load()
}

// checkRoundTrips asserts sessiongen's engine costs on a store reached
// through the two lib constructors: newLib makes a manager (a cache of
// its own) on the same engine data each time it is called.
// A one-field write must cost one round trip of writeCmds commands.
func checkRoundTrips(t *testing.T, c *counter, writeCmds int64, newLib func(opts ...session.Option) lib) {
	l := newLib()
	req := l.newSession(t)

	// Warm cache (the manager that created the session): no engine call,
	// however many read-only requests.
	read := l.readHandler()
	c.reset()
	for range 100 {
		serveOnce(t, "warm read", read, req)
	}
	require.Zero(t, c.commands.Load(), "100 read-only requests on a warm cache reached the engine")
	require.Zero(t, c.roundTrips.Load(), "100 read-only requests on a warm cache reached the engine")

	// One-field write: exactly one round trip, one command. The first
	// write warms what the engine prepares once (a Redis script, a
	// PostgreSQL statement).
	write := l.writeHandler()
	serveOnce(t, "first write", write, req)
	for range 10 {
		rtt, cmds := roundTrips(t, c, "write", write, req)
		require.EqualValues(t, 1, rtt, "round trips of a one-field write")
		require.Equal(t, writeCmds, cmds, "commands of a one-field write")
	}

	// A manager with a cold cache loads the session in one round trip,
	// then serves it from its cache.
	cold := newLib()
	verify := cold.verifyHandler(written.Load())
	rtt, _ := roundTrips(t, c, "cold read", verify, req)
	require.EqualValues(t, 1, rtt, "round trips of a read on a cold cache")
	rtt, _ = roundTrips(t, c, "warm read", verify, req)
	require.Zero(t, rtt, "round trips of a read on a warm cache")

	// OnResponse: a request setting two fields costs one round trip.
	batched := newLib(session.WithFlushMode(session.OnResponse))
	two := twoFieldHandler(batched)
	serveOnce(t, "OnResponse warm-up", two, req)
	rtt, _ = roundTrips(t, c, "OnResponse two-field write", two, req)
	require.EqualValues(t, 1, rtt, "round trips of a two-field OnResponse request")
}

// TestRedisRoundTrips proves, counting with a go-redis hook, that with a
// warm cache a read-only request sends Redis no command at all and a
// one-field write is exactly one command in one round trip.
func TestRedisRoundTrips(t *testing.T) {
	e := newRedisEnv(t)
	checkRoundTrips(t, e.ours, 1, func(opts ...session.Option) lib { return e.sessiongen(t, opts...) })
}

// TestPostgresRoundTrips proves the same for PostgreSQL, counting with a
// pgx tracer: no statement for a warm read, one batch (lock and update)
// for a write.
func TestPostgresRoundTrips(t *testing.T) {
	e := newPostgresEnv(t)
	checkRoundTrips(t, e.rt, 2, func(opts ...session.Option) lib { return e.sessiongen(t, opts...) })
}

// TestLibsLoadExistingSession runs the pre-benchmark checks as a test: each
// library in memory reads the seeded session and writes into it.
func TestLibsLoadExistingSession(t *testing.T) {
	for _, l := range memoryLibs(t) {
		t.Run(l.name, func(t *testing.T) {
			req := l.newSession(t)
			l.checkRead(t, req)
			l.checkWrite(t, req)
		})
	}
}
