package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// redisAddrEnv names the variable holding the Redis server's host:port.
const redisAddrEnv = "SESSIONGEN_REDIS_ADDR"

// redisEnv is a Redis server prepared for one benchmark or test: a
// go-redis client for sessiongen and a redigo pool for scs, each counting
// its round trips, and a key prefix of its own.
type redisEnv struct {
	prefix string
	client *redis.Client
	pool   *redigo.Pool
	ours   *counter // go-redis commands, counted by a hook
	theirs *counter // redigo round trips, counted as writes on the connection
}

// newRedisEnv connects to the server named by SESSIONGEN_REDIS_ADDR,
// skipping when it is unset and failing when it does not answer. Its keys
// are deleted at cleanup.
func newRedisEnv(tb testing.TB) *redisEnv {
	tb.Helper()
	addr := os.Getenv(redisAddrEnv)
	if addr == "" {
		tb.Skipf("%s is not set: skipping the Redis comparison", redisAddrEnv)
	}
	e := &redisEnv{
		prefix: fmt.Sprintf("sgbench:%d:%d:", os.Getpid(), time.Now().UnixNano()),
		ours:   &counter{},
		theirs: &counter{},
	}
	e.client = redis.NewClient(&redis.Options{Addr: addr, PoolSize: clients})
	if err := e.client.Ping(background).Err(); err != nil {
		_ = e.client.Close()
		tb.Fatalf("%s=%s: %v", redisAddrEnv, addr, err)
	}
	e.client.AddHook(countingHook{e.ours})
	// Both libraries get pools of the same size; a client beyond it waits
	// for a connection.
	e.pool = &redigo.Pool{
		MaxIdle:     clients,
		MaxActive:   clients,
		Wait:        true,
		IdleTimeout: time.Minute,
		Dial: func() (redigo.Conn, error) {
			return redigo.Dial("tcp", addr, redigo.DialNetDial(func(network, addr string) (net.Conn, error) {
				c, err := net.Dial(network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{Conn: c, c: e.theirs}, nil
			}))
		},
	}
	tb.Cleanup(func() {
		e.deleteKeys(tb)
		_ = e.pool.Close()
		_ = e.client.Close()
	})
	return e
}

// deleteKeys removes every key under the environment's prefix (SCAN, not
// KEYS).
func (e *redisEnv) deleteKeys(tb testing.TB) {
	ctx := context.Background()
	it := e.client.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		tb.Errorf("redis cleanup: scan: %v", err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := e.client.Unlink(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("redis cleanup: unlink: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// sessiongen returns sessiongen on the redisstore engine, with opts.
func (e *redisEnv) sessiongen(tb testing.TB, opts ...session.Option) lib {
	return e.sessiongenOn(tb, nil, opts...)
}

// alone returns sessiongen on a redisstore without group commit, as
// sessiongen-alone: every write its own round trip, as before grouping.
func (e *redisEnv) alone(tb testing.TB) lib {
	l := e.sessiongenOn(tb, []redisstore.Option{redisstore.WithMaxGroup(1)})
	l.name = "sessiongen-alone"
	return l
}

// sessiongenOn returns sessiongen on a redisstore with storeOpts.
func (e *redisEnv) sessiongenOn(tb testing.TB, storeOpts []redisstore.Option, opts ...session.Option) lib {
	tb.Helper()
	st, err := redisstore.New(e.client, append([]redisstore.Option{redisstore.WithPrefix(e.prefix + "sg:")}, storeOpts...)...)
	if err != nil {
		tb.Fatalf("redisstore.New: %v", err)
	}
	return sessiongenLib(tb, append([]session.Option{session.WithStore(st)}, opts...)...)
}

// scs returns scs on its redisstore.
func (e *redisEnv) scs() lib {
	return scsLib(scsredis.NewWithPrefix(e.pool, e.prefix+"scs:"))
}

// countingHook counts go-redis round trips: one per command sent alone,
// one per pipeline or transaction.
type countingHook struct{ c *counter }

// DialHook passes dials through.
func (h countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one command and one round trip.
func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.roundTrips.Add(1)
		h.c.commands.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts the pipeline's commands and one round trip.
func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.roundTrips.Add(1)
		h.c.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// countingConn counts the writes on a redigo connection: redigo writes
// once per flush of its buffer, and every flush is followed by reading the
// replies, so each write is one round trip.
type countingConn struct {
	net.Conn
	c *counter
}

// Write counts one round trip.
func (c countingConn) Write(p []byte) (int, error) {
	c.c.roundTrips.Add(1)
	return c.Conn.Write(p)
}

// BenchmarkRedis compares sessiongen's redisstore with scs's redisstore
// (redigo): serial requests, 32 concurrent readers, and the write sweep
// from 1 to 128 clients, each client on its own session. sessiongen serves reads from its warm cache; scs reads Redis on
// every request. rtt/op is the engine round trips per request.
func BenchmarkRedis(b *testing.B) {
	e := newRedisEnv(b)
	libs := []lib{e.sessiongen(b), e.scs()}
	counters := map[string]*counter{"sessiongen": e.ours, "sessiongen-alone": e.ours, "scs": e.theirs}
	runLibs(b, libs, counters, true, e.alone(b))
	runOnResponse(b, e.sessiongen(b, session.WithFlushMode(session.OnResponse)), e.ours)
}
