// Package nodetest runs several session managers as the nodes of one
// application ("many nodes, one truth"): three managers share one engine
// and one bus, and the scenarios of [Run] check that what one node
// changes the others see, that a destroyed or revoked session is refused
// everywhere, that the staleness bound holds while the bus is down, and
// that warm reads cost no engine traffic.
//
// The scenarios run on the in-process bus and memory engine always, and
// on Redis (redisstore + redisbus) and PostgreSQL (pgstore + pgbus) when
// SESSIONGEN_REDIS_ADDR and SESSIONGEN_POSTGRES_DSN are set. This package
// lives apart from package session so that the runtime's own tests do not
// import any driver. It is imported by tests only.
package nodetest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Wait is how long a scenario waits for something that should happen
// within milliseconds on loopback (a message to arrive).
const Wait = 10 * time.Second

// Env is one combination of engine and bus.
type Env struct {
	// Name names the combination in test output.
	Name string
	// Open prepares a set of sessions of its own (a key prefix, tables,
	// a channel) for one cluster.
	Open func(t testing.TB) Backend
	// HeldOutages says whether the backends Open returns can hold a bus
	// outage for as long as a test needs (Backend.Held). Run runs the
	// round-robin-while-down scenario only on such environments; the
	// transports that reconnect by themselves within milliseconds are
	// covered by BoundWhileBusDown and RevalidateAfterBusUp instead.
	HeldOutages bool
}

// Backend gives the nodes of one cluster their engine and bus.
type Backend struct {
	// Node returns node i's engine and bus, each on connections of its
	// own, all onto the same data and channel.
	Node func(t testing.TB, i int) (store.Store, bus.Bus)
	// Outage cuts every node's bus subscription. When Held is true the
	// subscriptions stay down until restore is called; otherwise the
	// transport's connections are killed and the buses reconnect by
	// themselves (restore does nothing).
	Outage func(t testing.TB) (restore func())
	// Held says whether an outage lasts until its restore.
	Held bool
	// Commands, when not nil, counts the commands the engines' clients
	// sent to the server so far.
	Commands func() int64
}

// Options shape a cluster.
type Options struct {
	// NoBus makes nodes without a bus (bounded-staleness mode).
	NoBus bool
	// Session are options given to every node's manager after the
	// cluster's own (engine, bus, node name, logger).
	Session []session.Option
}

// Cluster is three managers sharing one engine and one bus.
type Cluster struct {
	t       testing.TB
	Backend Backend
	Nodes   []*Node
}

// Node is one manager of a cluster.
type Node struct {
	Name  string
	M     *session.Manager
	Store *Counted
	Log   *LogBuffer
	t     testing.TB
}

// NodeNames are the names of a cluster's nodes.
var NodeNames = []string{"A", "B", "C"}

// NewCluster opens a backend of env and starts three nodes on it. With a
// bus it waits until every node's subscription is up. The managers are
// closed when the test ends.
func NewCluster(t testing.TB, env Env, o Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Backend: env.Open(t)}
	for i, name := range NodeNames {
		st, b := c.Backend.Node(t, i)
		n := &Node{Name: name, Store: &Counted{Store: st}, Log: &LogBuffer{}, t: t}
		opts := []session.Option{
			session.WithStore(n.Store),
			session.WithNode(name),
			session.WithLogger(slog.New(slog.NewTextHandler(n.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		}
		if !o.NoBus {
			opts = append(opts, session.WithBus(b))
		}
		opts = append(opts, session.WithErrorHandler(recordError))
		m, err := session.New(append(opts, o.Session...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		n.M = m
		c.Nodes = append(c.Nodes, n)
	}
	if !o.NoBus {
		for _, n := range c.Nodes {
			n.WaitUps(1)
		}
	}
	return c
}

// A, B and C return the cluster's nodes.
func (c *Cluster) A() *Node { return c.Nodes[0] }
func (c *Cluster) B() *Node { return c.Nodes[1] }
func (c *Cluster) C() *Node { return c.Nodes[2] }

// failure holds the error the manager's error handler answered a
// request with (a change that failed when it was flushed, OnResponse).
type failure struct{ err error }

type failureKey struct{}

// recordError is the nodes' error handler: it answers 500 and records
// err for the request's Do.
func recordError(w http.ResponseWriter, r *http.Request, err error) {
	if f, ok := r.Context().Value(failureKey{}).(*failure); ok {
		f.err = err
	}
	http.Error(w, "session error", http.StatusInternalServerError)
}

// Do sends one request carrying cookie (nil: none) through the node's
// middleware to fn and returns the session cookie the response sets
// (nil when it sets none).
func (n *Node) Do(cookie *http.Cookie, fn func(r *http.Request, s *session.Session)) *http.Cookie {
	n.t.Helper()
	ck, _ := n.Request(cookie, fn)
	return ck
}

// Request is Do that also returns the error the manager answered the
// request with instead of the handler's response (nil when it did not):
// under OnResponse, a change that the engine refused when it was
// flushed.
func (n *Node) Request(cookie *http.Cookie, fn func(r *http.Request, s *session.Session)) (*http.Cookie, error) {
	n.t.Helper()
	f := &failure{}
	req := httptest.NewRequestWithContext(context.WithValue(context.Background(), failureKey{}, f), http.MethodGet, "/", nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	n.M.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(r, session.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "sid" {
			return ck, f.err
		}
	}
	return nil, f.err
}

// Create starts a session on the node holding the given values and
// returns its cookie.
func (n *Node) Create(kv ...any) *http.Cookie {
	n.t.Helper()
	c := n.Do(nil, func(r *http.Request, s *session.Session) {
		for i := 0; i+1 < len(kv); i += 2 {
			require.NoError(n.t, s.Set(r.Context(), kv[i].(string), kv[i+1]))
		}
	})
	require.NotNil(n.t, c, "a new session sends a cookie")
	return c
}

// Set writes key=v in the session of cookie on the node and returns the
// error of Set, or of the flush that sent it (OnResponse).
func (n *Node) Set(cookie *http.Cookie, key string, v any) error {
	var err error
	_, ferr := n.Request(cookie, func(r *http.Request, s *session.Session) { err = s.Set(r.Context(), key, v) })
	if err != nil {
		return err
	}
	return ferr
}

// Get reads the int64 under key in the session of cookie on the node:
// the value, whether the session has it, and whether the session exists
// at all (a known ID).
func (n *Node) Get(cookie *http.Cookie, key string) (v int64, ok, exists bool) {
	n.t.Helper()
	n.Do(cookie, func(r *http.Request, s *session.Session) {
		var err error
		v, ok, err = session.Value[int64](s, key)
		require.NoError(n.t, err)
		exists = s.ID() != ""
	})
	return v, ok, exists
}

// Destroy destroys the session of cookie on the node.
func (n *Node) Destroy(cookie *http.Cookie) {
	n.t.Helper()
	n.Do(cookie, func(r *http.Request, s *session.Session) {
		require.NoError(n.t, s.Destroy(r.Context()))
	})
}

// Ups and Downs count the node's logged bus transitions.
func (n *Node) Ups() int   { return n.Log.Count("bus subscription up") }
func (n *Node) Downs() int { return n.Log.Count("bus subscription down") }

// WaitUps waits until the node logged k transitions to up.
func (n *Node) WaitUps(k int) {
	n.t.Helper()
	Eventually(n.t, Wait, "node "+n.Name+" bus up", func() bool { return n.Ups() >= k })
}

// WaitDowns waits until the node logged k transitions to down.
func (n *Node) WaitDowns(k int) {
	n.t.Helper()
	Eventually(n.t, Wait, "node "+n.Name+" bus down", func() bool { return n.Downs() >= k })
}

// Eventually polls cond every millisecond until it holds, failing the
// test (naming what it waited for) when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// LogBuffer is a goroutine-safe log sink.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count counts the log lines holding s.
func (l *LogBuffer) Count(s string) int {
	return strings.Count(l.String(), s)
}

// Counted forwards every call to a real engine and counts them. It
// forwards store.Versioner and store.OwnerIndex too (every engine the
// scenarios run on has them).
type Counted struct {
	store.Store
	loads, creates, updates, deletes, versions, owned, moves atomic.Int64
}

// Calls returns the number of engine calls so far.
func (c *Counted) Calls() int64 {
	return c.loads.Load() + c.creates.Load() + c.updates.Load() + c.deletes.Load() + c.versions.Load() + c.owned.Load() + c.moves.Load()
}

// Loads returns the number of Load calls so far.
func (c *Counted) Loads() int64 { return c.loads.Load() }

// Versions returns the number of Version calls so far.
func (c *Counted) Versions() int64 { return c.versions.Load() }

func (c *Counted) Load(ctx context.Context, key string) (store.Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

func (c *Counted) Create(ctx context.Context, key string, rec store.Record) error {
	c.creates.Add(1)
	return c.Store.Create(ctx, key, rec)
}

func (c *Counted) Update(ctx context.Context, key string, ch store.Change) (uint64, error) {
	c.updates.Add(1)
	return c.Store.Update(ctx, key, ch)
}

func (c *Counted) Move(ctx context.Context, from, to string, ch store.Change) (store.Record, error) {
	c.moves.Add(1)
	return c.Store.Move(ctx, from, to, ch)
}

func (c *Counted) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Store.Delete(ctx, key)
}

func (c *Counted) Version(ctx context.Context, key string) (uint64, error) {
	c.versions.Add(1)
	return c.Store.(store.Versioner).Version(ctx, key)
}

func (c *Counted) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	c.owned.Add(1)
	return c.Store.(store.OwnerIndex).Owned(ctx, owner)
}
