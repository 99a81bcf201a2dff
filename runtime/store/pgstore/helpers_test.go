package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// envDSN names the variable holding the PostgreSQL connection string the
// tests use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envDSN = "SESSIONGEN_POSTGRES_DSN"

// testConfig returns a pool config for the server in envDSN, skipping the
// test when the variable is unset.
func testConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		t.Skipf("%s is not set: skipping tests against PostgreSQL (set it to a connection string such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", envDSN)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err, "parse %s", envDSN)
	return cfg
}

// newPool opens a pool from cfg, fails the test when the server does not
// answer, and closes the pool at the end of the test.
func newPool(t *testing.T, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err, "pool")
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL from %s does not answer: %v", envDSN, err)
	}
	return pool
}

// testPool is newPool on the server in envDSN.
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return newPool(t, testConfig(t))
}

// tableOpt returns a WithTables option naming fresh tables for this test,
// and drops them at its end (through their own pool, so the drop runs even
// after the test's pools are closed).
func tableOpt(t *testing.T) Option {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	prefix := "sessiongen_test_" + hex.EncodeToString(b[:])
	sessions, fields := prefix+"_sessions", prefix+"_fields"
	admin := testPool(t) // registered first, so closed after the drop below
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := admin.Exec(ctx, "DROP TABLE IF EXISTS "+quoteTable(fields)+", "+quoteTable(sessions))
		if err != nil {
			t.Errorf("drop test tables: %v", err)
		}
	})
	return WithTables(sessions, fields)
}

// newTestStore returns a Store on pool with the given options, the schema
// created, closed at the end of the test.
func newTestStore(t *testing.T, pool *pgxpool.Pool, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithCreateSchema(true)}, opts...)
	s, err := New(context.Background(), pool, opts...)
	require.NoError(t, err, "New")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// countingConn counts round trips (a read that follows a write) and bytes
// written on one connection.
type countingConn struct {
	net.Conn
	c *counter
}

// counter totals round trips and bytes written over all counted
// connections.
type counter struct {
	mu        sync.Mutex
	wrote     bool // the last thing seen was a write
	trips     int
	bytesSent int
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.mu.Lock()
	c.c.bytesSent += n
	if n > 0 {
		c.c.wrote = true
	}
	c.c.mu.Unlock()
	return n, err
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.c.mu.Lock()
		if c.c.wrote {
			c.c.trips++
			c.c.wrote = false
		}
		c.c.mu.Unlock()
	}
	return n, err
}

// reset zeroes the counts.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips, c.bytesSent, c.wrote = 0, 0, false
}

// get returns the round trips and bytes written since the last reset.
func (c *counter) get() (trips, bytesSent int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips, c.bytesSent
}

// dial returns a dial function wrapping every connection in a
// countingConn.
func (c *counter) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, c: c}, nil
	}
}

// proxy is a TCP forwarder to the database that the test can stop (every
// connection cut, new ones refused) and start again on the same address:
// a server outage as the client sees it.
type proxy struct {
	t         *testing.T
	addr      string // listen address, fixed across restarts
	targetNet string // "tcp" or "unix"
	target    string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newProxy starts a proxy to target (on network "tcp" or "unix") on a free
// loopback port and stops it at the end of the test.
func newProxy(t *testing.T, network, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, addr: "127.0.0.1:0", targetNet: network, target: target}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start listens again on the proxy's address.
func (p *proxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err, "proxy listen")
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String()
	p.conns = make(map[net.Conn]struct{})
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

// accept forwards every connection accepted on ln.
func (p *proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial(p.targetNet, p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // stopped meanwhile
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// pipe copies from src to dst until either side closes.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// stop closes the listener and cuts every connection.
func (p *proxy) stop() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.wg.Wait()
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
