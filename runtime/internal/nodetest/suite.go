package nodetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Run runs every scenario on env.
func Run(t *testing.T, env Env) {
	t.Run("WriteSeenEverywhere", func(t *testing.T) { testWriteSeenEverywhere(t, env) })
	t.Run("OwnMessagesIgnored", func(t *testing.T) { testOwnMessagesIgnored(t, env) })
	t.Run("DestroyRefusedEverywhere", func(t *testing.T) { testDestroyRefusedEverywhere(t, env) })
	t.Run("RevokeAllEverywhere", func(t *testing.T) { testRevokeAllEverywhere(t, env) })
	t.Run("SessionsAndRevokeOthers", func(t *testing.T) { testSessionsAndRevokeOthers(t, env) })
	t.Run("WarmReadsNoEngineTraffic", func(t *testing.T) { testWarmReadsNoEngineTraffic(t, env) })
	t.Run("BoundWhileBusDown", func(t *testing.T) { testBoundWhileBusDown(t, env) })
	t.Run("RevalidateAfterBusUp", func(t *testing.T) { testRevalidateAfterBusUp(t, env) })
	t.Run("RoundRobin", func(t *testing.T) {
		// With the bus up the bound applies only while it is down; the
		// window checked here is the time a message takes to arrive,
		// with a wide margin for a loaded machine.
		const window = 250 * time.Millisecond
		c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(window)}})
		roundRobin(t, c, window)
	})
	if env.HeldOutages {
		t.Run("RoundRobinBusDown", func(t *testing.T) { testRoundRobinBusDown(t, env) })
	}
	t.Run("RoundRobinNoBus", func(t *testing.T) {
		const bound = 50 * time.Millisecond
		c := NewCluster(t, env, Options{NoBus: true, Session: []session.Option{session.WithMaxStaleness(bound)}})
		roundRobin(t, c, bound)
	})
}

// testRoundRobinBusDown spreads requests over the nodes while every bus
// subscription is held down: only the staleness bound keeps reads fresh.
func testRoundRobinBusDown(t *testing.T, env Env) {
	const bound = 50 * time.Millisecond
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(bound)}})
	require.True(t, c.Backend.Held, "HeldOutages is set but the backend cannot hold an outage")
	restore := c.Backend.Outage(t)
	for _, n := range c.Nodes {
		n.WaitDowns(1)
	}
	roundRobin(t, c, bound)
	restore()
}

// longBound is a staleness bound no scenario waits for: with it, only a
// message (or the revalidation after the bus comes back) can make a node
// see another node's change.
const longBound = time.Hour

// Warm reads the session of cookie on every given node, so each caches
// it, and checks it holds n = want.
func Warm(t testing.TB, cookie *http.Cookie, want int64, nodes ...*Node) {
	t.Helper()
	for _, n := range nodes {
		v, ok, exists := n.Get(cookie, "n")
		require.True(t, exists, "node %s has the session", n.Name)
		require.True(t, ok)
		require.Equal(t, want, v, "node %s", n.Name)
	}
}

// seesValue waits until node n reads n = want in the session of cookie.
func seesValue(t *testing.T, n *Node, cookie *http.Cookie, want int64) {
	t.Helper()
	Eventually(t, Wait, fmt.Sprintf("node %s to read %d", n.Name, want), func() bool {
		v, _, _ := n.Get(cookie, "n")
		return v == want
	})
}

// refuses waits until node n no longer knows the session of cookie.
func refuses(t *testing.T, n *Node, cookie *http.Cookie) {
	t.Helper()
	Eventually(t, Wait, "node "+n.Name+" to refuse the session", func() bool {
		_, _, exists := n.Get(cookie, "n")
		return !exists
	})
}

// testWriteSeenEverywhere: a write on A is seen on B and C once its
// message arrives (the staleness bound is too long to help), each
// reloading the session exactly once.
func testWriteSeenEverywhere(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(longBound)}})
	ck := c.A().Create("n", int64(1))
	Warm(t, ck, 1, c.Nodes...)
	loadsB, loadsC := c.B().Store.Loads(), c.C().Store.Loads()
	require.NoError(t, c.A().Set(ck, "n", int64(2)))
	v, _, _ := c.A().Get(ck, "n")
	assert.Equal(t, int64(2), v, "the writer reads its write")
	seesValue(t, c.B(), ck, 2)
	seesValue(t, c.C(), ck, 2)
	assert.Equal(t, loadsB+1, c.B().Store.Loads(), "B reloaded once")
	assert.Equal(t, loadsC+1, c.C().Store.Loads(), "C reloaded once")
}

// testOwnMessagesIgnored: a node's own messages do not drop its own
// cached copy.
func testOwnMessagesIgnored(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(longBound)}})
	ck := c.A().Create("n", int64(1))
	Warm(t, ck, 1, c.B())
	for i := int64(2); i <= 5; i++ {
		require.NoError(t, c.A().Set(ck, "n", i))
	}
	seesValue(t, c.B(), ck, 5)
	// A's own messages went out before B saw the last one; give A's
	// subscription the same time to deliver them to A.
	time.Sleep(100 * time.Millisecond)
	Warm(t, ck, 5, c.A())
	assert.Zero(t, c.A().Store.Loads(), "A never reloaded the session it wrote")
	assert.Zero(t, c.A().Store.Versions(), "nor checked its version")
}

// testDestroyRefusedEverywhere: after Destroy on A, B and C refuse the
// session as soon as the message arrives.
func testDestroyRefusedEverywhere(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(longBound)}})
	ck := c.A().Create("n", int64(1))
	keep := c.B().Create("n", int64(7))
	Warm(t, ck, 1, c.Nodes...)
	Warm(t, keep, 7, c.Nodes...)
	c.A().Destroy(ck)
	_, _, exists := c.A().Get(ck, "n")
	assert.False(t, exists, "A refuses it at once")
	refuses(t, c.B(), ck)
	refuses(t, c.C(), ck)
	Warm(t, keep, 7, c.Nodes...) // another session is untouched
	// A Set with the dead cookie starts a new session; the old one stays
	// dead in the engine.
	var id string
	c.B().Do(ck, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.Set(r.Context(), "n", int64(2)))
		id = s.ID()
	})
	assert.NotEqual(t, ck.Value, id)
	_, err := c.B().Store.Load(context.Background(), store.Key(ck.Value))
	require.ErrorIs(t, err, store.ErrNotFound, "no resurrection")
}

// testRevokeAllEverywhere: RevokeAll on A kills the owner's sessions on
// every node and leaves other owners' alone.
func testRevokeAllEverywhere(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{
		session.WithMaxStaleness(longBound), session.WithOwnerKey("uid"),
	}})
	s1 := c.A().Create("uid", "u1", "n", int64(1))
	s2 := c.B().Create("uid", "u1", "n", int64(2))
	s3 := c.C().Create("uid", "u2", "n", int64(3))
	for i, ck := range []*http.Cookie{s1, s2, s3} {
		Warm(t, ck, int64(i+1), c.Nodes...)
	}
	n, err := c.A().M.RevokeAll(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, node := range c.Nodes {
		refuses(t, node, s1)
		refuses(t, node, s2)
	}
	Warm(t, s3, 3, c.Nodes...)
	list, err := c.C().M.Sessions(context.Background(), "u1")
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = c.C().M.Sessions(context.Background(), "u2")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, store.Key(s3.Value), list[0].Handle)
}

// testSessionsAndRevokeOthers: Sessions lists an owner's sessions without
// IDs; RevokeOthers keeps the calling session and kills the others
// everywhere.
func testSessionsAndRevokeOthers(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{
		session.WithMaxStaleness(longBound), session.WithOwnerKey("uid"),
	}})
	var mine []*http.Cookie
	for _, node := range c.Nodes {
		mine = append(mine, node.Create("uid", int64(42), "n", int64(1)))
	}
	other := c.A().Create("uid", int64(7), "n", int64(1))
	for _, ck := range append(slices.Clone(mine), other) {
		Warm(t, ck, 1, c.Nodes...)
	}

	list, err := c.B().M.Sessions(context.Background(), "42")
	require.NoError(t, err)
	require.Len(t, list, 3)
	var handles []string
	for _, info := range list {
		handles = append(handles, info.Handle)
		assert.False(t, info.LastSeen.Before(info.Created), "last seen %v before created %v", info.LastSeen, info.Created)
		assert.True(t, info.Expires.After(info.LastSeen))
	}
	var want []string
	for _, ck := range mine {
		want = append(want, store.Key(ck.Value))
	}
	assert.ElementsMatch(t, want, handles)
	dump := fmt.Sprintf("%+v %#v", list, list)
	for _, ck := range append(slices.Clone(mine), other) {
		assert.NotContains(t, dump, ck.Value, "no session ID in the listing")
	}

	var revoked int
	c.B().Do(mine[1], func(r *http.Request, s *session.Session) {
		revoked, err = c.B().M.RevokeOthers(r.Context(), s)
	})
	require.NoError(t, err)
	assert.Equal(t, 2, revoked)
	for _, node := range c.Nodes {
		refuses(t, node, mine[0])
		refuses(t, node, mine[2])
	}
	Warm(t, mine[1], 1, c.Nodes...)
	Warm(t, other, 1, c.Nodes...)
	list, err = c.A().M.Sessions(context.Background(), "42")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, store.Key(mine[1].Value), list[0].Handle)
}

// testWarmReadsNoEngineTraffic: with the bus up, reads of cached
// sessions spread over the nodes reach no engine (and, where the backend
// counts them, send no command to its server).
func testWarmReadsNoEngineTraffic(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{})
	var cookies []*http.Cookie
	for i := range 5 {
		cookies = append(cookies, c.Nodes[i%3].Create("n", int64(i)))
	}
	for i, ck := range cookies {
		Warm(t, ck, int64(i), c.Nodes...)
	}
	calls := func() int64 {
		var n int64
		for _, node := range c.Nodes {
			n += node.Store.Calls()
		}
		return n
	}
	commands := func() int64 {
		if c.Backend.Commands == nil {
			return 0
		}
		return c.Backend.Commands()
	}
	before, beforeCmds := calls(), commands()
	for i := range 300 {
		Warm(t, cookies[i%len(cookies)], int64(i%len(cookies)), c.Nodes[i%3])
	}
	assert.Equal(t, before, calls(), "warm reads call no engine")
	assert.Equal(t, beforeCmds, commands(), "warm reads send no command to the engine's server")
	if c.Backend.Commands != nil {
		require.NoError(t, c.A().Set(cookies[0], "n", int64(99)))
		assert.Greater(t, commands(), beforeCmds, "the command counter works")
	}
}

// testBoundWhileBusDown: while the bus is down, a node serves no cached
// copy older than the bound: a change and a destroy made meanwhile on A
// are seen by B and C once the bound has passed, whether or not the
// message got through; an unchanged session costs a version check, not
// a load. After the outage the bus works again.
func testBoundWhileBusDown(t *testing.T, env Env) {
	const bound = 300 * time.Millisecond
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(bound)}})
	ck := c.A().Create("n", int64(1))
	quiet := c.A().Create("n", int64(5))
	Warm(t, ck, 1, c.Nodes...)
	Warm(t, quiet, 5, c.Nodes...)

	restore := c.Backend.Outage(t)
	if c.Backend.Held {
		for _, n := range c.Nodes {
			n.WaitDowns(1)
		}
	}
	require.NoError(t, c.A().Set(ck, "n", int64(2)))
	time.Sleep(bound + 50*time.Millisecond)
	loadsB, versionsB := c.B().Store.Loads(), c.B().Store.Versions()
	Warm(t, quiet, 5, c.B())
	assert.Equal(t, loadsB, c.B().Store.Loads(), "an unchanged session is not reloaded")
	assert.Equal(t, versionsB+1, c.B().Store.Versions(), "its version is checked")
	Warm(t, ck, 2, c.B(), c.C())

	outages := 1
	if !c.Backend.Held {
		// The buses reconnect by themselves: wait for that, and cut them
		// again for the destroy.
		for _, n := range c.Nodes {
			n.WaitUps(2)
		}
		restore = c.Backend.Outage(t)
		outages++
	}
	c.A().Destroy(ck)
	time.Sleep(bound + 50*time.Millisecond)
	for _, n := range c.Nodes {
		_, _, exists := n.Get(ck, "n")
		assert.False(t, exists, "node %s refuses the destroyed session", n.Name)
	}

	restore()
	for _, n := range c.Nodes {
		n.WaitUps(1 + outages)
		assert.Equal(t, outages, n.Downs(), "node %s saw every outage", n.Name)
	}
	fresh := c.A().Create("n", int64(1))
	Warm(t, fresh, 1, c.Nodes...)
	require.NoError(t, c.A().Set(fresh, "n", int64(2)))
	seesValue(t, c.B(), fresh, 2)
	seesValue(t, c.C(), fresh, 2)
}

// testRevalidateAfterBusUp: when the subscription comes back, a node
// revalidates every session it cached before, so a change whose message
// was lost is seen (the staleness bound is too long to help).
func testRevalidateAfterBusUp(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{Session: []session.Option{session.WithMaxStaleness(longBound)}})
	ck := c.A().Create("n", int64(1))
	Warm(t, ck, 1, c.Nodes...)
	restore := c.Backend.Outage(t)
	if c.Backend.Held {
		for _, n := range c.Nodes {
			n.WaitDowns(1)
		}
	}
	require.NoError(t, c.A().Set(ck, "n", int64(2)))
	if c.Backend.Held {
		// The message was lost: B and C still serve their copies.
		Warm(t, ck, 1, c.B(), c.C())
	}
	restore()
	for _, n := range c.Nodes {
		n.WaitUps(2)
		assert.Equal(t, 1, n.Downs(), "node %s saw the outage", n.Name)
	}
	if c.Backend.Held {
		// Deterministic: the copies predate the new epoch.
		Warm(t, ck, 2, c.B(), c.C())
		return
	}
	// The buses may have reconnected before A's message went out, so it
	// may be delivered (just) after the up transition.
	seesValue(t, c.B(), ck, 2)
	seesValue(t, c.C(), ck, 2)
}

// roundRobin sends a read-mostly mix of requests round-robin to the
// cluster's nodes (no affinity) and counts stale reads.
//
// Stale, precisely: writes to one session are serialised and write
// increasing values, each recorded with the instant its Set returned. A
// read that begins at instant b and returns value x lags by b - w, where
// w is when the first write of a value greater than x returned (no lag
// when that write had not returned by b). It is stale when it lags by
// more than bound: within the bound a node may still serve its cached
// copy; past it, never.
func roundRobin(t *testing.T, c *Cluster, bound time.Duration) {
	const (
		sessions = 4
		clients  = 6
	)
	run := max(4*bound, time.Second)
	type written struct {
		v  int64
		at time.Time
	}
	type sess struct {
		cookie *http.Cookie
		wmu    sync.Mutex // serialises writes
		next   int64
		lmu    sync.Mutex // guards log
		log    []written
	}
	var ss []*sess
	for i := range sessions {
		s := &sess{cookie: c.Nodes[i%3].Create("n", int64(0))}
		s.log = []written{{0, time.Now()}}
		ss = append(ss, s)
	}
	var (
		rr                            atomic.Uint64
		reads, writes, stale, changed atomic.Int64
		maxLag                        atomic.Int64
		errMu                         sync.Mutex
		errs                          []string
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			last := make([]int64, sessions)
			for time.Now().Before(deadline) {
				node := c.Nodes[rr.Add(1)%3]
				i := rand.IntN(sessions)
				s := ss[i]
				if rand.IntN(10) == 0 {
					s.wmu.Lock()
					s.next++
					v := s.next
					var err error
					node.Do(s.cookie, func(r *http.Request, se *session.Session) { err = se.Set(r.Context(), "n", v) })
					if err != nil {
						fail("write on %s: %v", node.Name, err)
					}
					s.lmu.Lock()
					s.log = append(s.log, written{v, time.Now()})
					s.lmu.Unlock()
					s.wmu.Unlock()
					writes.Add(1)
					continue
				}
				begin := time.Now()
				var (
					v   int64
					ok  bool
					err error
				)
				node.Do(s.cookie, func(r *http.Request, se *session.Session) { v, ok, err = session.Value[int64](se, "n") })
				if err != nil || !ok {
					fail("read on %s: ok=%v err=%v", node.Name, ok, err)
					continue
				}
				reads.Add(1)
				if v != last[i] {
					changed.Add(1)
					last[i] = v
				}
				var lag time.Duration
				s.lmu.Lock()
				for _, w := range s.log { // in increasing order of v
					if w.v > v {
						if w.at.Before(begin) {
							lag = begin.Sub(w.at)
						}
						break
					}
				}
				s.lmu.Unlock()
				for old := maxLag.Load(); int64(lag) > old && !maxLag.CompareAndSwap(old, int64(lag)); old = maxLag.Load() {
				}
				if lag > bound {
					stale.Add(1)
					fail("stale read on %s: %d, although a newer value was written %v before the read began", node.Name, v, lag)
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs, strings.Join(errs, "\n"))
	t.Logf("%d reads, %d writes, %d reads saw a new value; largest lag %v, bound %v",
		reads.Load(), writes.Load(), changed.Load(), time.Duration(maxLag.Load()), bound)
	assert.Zero(t, stale.Load(), "stale reads past the bound")
	assert.Greater(t, reads.Load(), int64(100))
	assert.Greater(t, writes.Load(), int64(5))
	assert.Greater(t, changed.Load(), int64(5), "readers saw the writes")
}
