package nodetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Races is the number of races RunRaces runs per interleaving (half in
// each flush mode).
const Races = 200

// RaceReport counts what RunRaces observed on one environment.
type RaceReport struct {
	// Races counts the races run per interleaving.
	Races map[string]int
	// StaleRenewals counts renewals that left a live session after a
	// revocation that reported success: must be 0.
	StaleRenewals int
	// StaleBy counts the stale renewals per interleaving.
	StaleBy map[string]int
	// LostWrites counts acknowledged writes missing after a renewal on
	// another node: must be 0.
	LostWrites int
	// LostIncrements counts compare-and-set increments lost: must be 0.
	LostIncrements int
	// DoublePops counts flash values popped by more than one of the
	// requests racing to pop them, MissedPops those popped by none: both
	// must be 0.
	DoublePops, MissedPops int
	// LargestSize is the largest stored session size seen in the
	// size-limit race (the limit is 1024).
	LargestSize int
}

// RunRaces runs the "no write lost, no session revived" races on env:
// two nodes, a session loaded on node A while node B ends it (Revoke,
// RevokeAll, RevokeOthers, Destroy) or renews it, and A renews; a write
// acknowledged on B followed by a renewal on A; concurrent
// compare-and-set increments split over both nodes; flash values popped
// once; detached sessions; remember-me and deadline settings seen on
// every node and kept by renewals; Clear racing writes on other nodes;
// and both nodes adding keys until the size limit refuses them. Each interleaving runs
// Races times, half with Immediate flushing and half with OnResponse.
// It fails the test on any revived session, lost write or lost
// increment, and returns what it counted.
func RunRaces(t *testing.T, env Env) RaceReport {
	t.Helper()
	rep := RaceReport{Races: map[string]int{}, StaleBy: map[string]int{}}
	modes := []session.FlushMode{session.Immediate, session.OnResponse}
	clusters := make([]*Cluster, len(modes))
	for i, mode := range modes {
		clusters[i] = NewCluster(t, env, Options{Session: []session.Option{
			session.WithOwnerKey("uid"), session.WithFlushMode(mode),
		}})
	}
	for _, end := range raceEnds {
		t.Run("RenewVersus"+end.name, func(t *testing.T) {
			for i := range Races {
				c := clusters[i%len(clusters)]
				if renewRace(t, c, end) {
					rep.StaleRenewals++
					rep.StaleBy[end.name]++
				}
				rep.Races[end.name]++
				if t.Failed() {
					return
				}
			}
		})
	}
	t.Run("WriteThenRenewElsewhere", func(t *testing.T) {
		for i := range Races {
			rep.LostWrites += writeThenRenew(t, clusters[i%len(clusters)], i)
			rep.Races["WriteThenRenew"]++
			if t.Failed() {
				return
			}
		}
	})
	t.Run("ConcurrentIncrements", func(t *testing.T) {
		for _, c := range clusters {
			rep.LostIncrements += increments(t, c, Races)
		}
	})
	t.Run("PopOnce", func(t *testing.T) {
		for _, c := range clusters {
			double, missed := popOnce(t, c, Races/4)
			rep.DoublePops += double
			rep.MissedPops += missed
		}
	})
	t.Run("Detached", func(t *testing.T) {
		for _, c := range clusters {
			detached(t, c, Races/20)
		}
	})
	t.Run("Settings", func(t *testing.T) {
		for _, c := range clusters {
			settings(t, c)
		}
	})
	t.Run("Clear", func(t *testing.T) {
		for _, c := range clusters {
			clearRace(t, c, Races/20)
		}
	})
	t.Run("SizeLimit", func(t *testing.T) {
		for _, c := range clusters {
			rep.LargestSize = max(rep.LargestSize, sizeLimit(t, c))
		}
	})
	assert.Zero(t, rep.StaleRenewals, "stale renewals")
	assert.Zero(t, rep.LostWrites, "lost writes")
	assert.Zero(t, rep.LostIncrements, "lost increments")
	assert.Zero(t, rep.DoublePops, "flash values popped twice")
	assert.Zero(t, rep.MissedPops, "flash values popped by no request")
	t.Logf("%s: races %v, stale renewals %d %v, lost writes %d, lost increments %d, double pops %d, missed pops %d, largest stored size %d",
		env.Name, rep.Races, rep.StaleRenewals, rep.StaleBy, rep.LostWrites, rep.LostIncrements, rep.DoublePops, rep.MissedPops, rep.LargestSize)
	return rep
}

// raceEnd is one way node B ends (or renews) the session while A renews
// it. It reports whether it revoked the session: after a successful
// revocation no live session may hold the data.
type raceEnd struct {
	name string
	run  func(c *Cluster, ck *http.Cookie, owner string, keep *http.Cookie) (revoked bool, err error)
}

var raceEnds = []raceEnd{
	{"Revoke", func(c *Cluster, ck *http.Cookie, _ string, _ *http.Cookie) (bool, error) {
		err := c.B().M.Revoke(context.Background(), store.Key(ck.Value))
		if errors.Is(err, session.ErrNotFound) {
			return false, nil // the renewal came first: nothing of the old handle left
		}
		return err == nil, err
	}},
	{"RevokeAll", func(c *Cluster, _ *http.Cookie, owner string, _ *http.Cookie) (bool, error) {
		_, err := c.B().M.RevokeAll(context.Background(), owner)
		return err == nil, err
	}},
	{"RevokeOthers", func(c *Cluster, _ *http.Cookie, _ string, keep *http.Cookie) (bool, error) {
		var err error
		c.B().Do(keep, func(r *http.Request, s *session.Session) {
			_, err = c.B().M.RevokeOthers(r.Context(), s)
		})
		return err == nil, err
	}},
	{"Destroy", func(c *Cluster, ck *http.Cookie, _ string, _ *http.Cookie) (bool, error) {
		var err error
		c.B().Do(ck, func(r *http.Request, s *session.Session) { err = s.Destroy(r.Context()) })
		return false, err
	}},
	{"Renew", func(c *Cluster, ck *http.Cookie, _ string, _ *http.Cookie) (bool, error) {
		var err error
		c.B().Do(ck, func(r *http.Request, s *session.Session) {
			if s.ID() == "" {
				return // already renewed away on A: nothing to renew
			}
			err = s.Renew(r.Context())
			if errors.Is(err, session.ErrNotFound) {
				err = nil // A's renewal came first
			}
		})
		return false, err
	}},
}

// renewRace runs one race of end against a renewal on A and checks its
// outcome. It reports whether a renewal survived a revocation.
func renewRace(t *testing.T, c *Cluster, end raceEnd) (stale bool) {
	t.Helper()
	owner := Unique("owner-")
	ck := c.A().Create("uid", owner, "n", int64(1))
	var keep *http.Cookie
	if end.name == "RevokeOthers" {
		keep = c.B().Create("uid", owner, "keep", int64(1))
	}
	Warm(t, ck, 1, c.A(), c.B())
	var (
		wg       sync.WaitGroup
		loaded   = make(chan struct{})
		go2      = make(chan struct{})
		renewErr error
		revoked  bool
		endErr   error
	)
	wg.Go(func() {
		c.A().Do(ck, func(r *http.Request, s *session.Session) {
			_, _, err := session.Value[int64](s, "n")
			assert.NoError(t, err)
			close(loaded)
			<-go2
			renewErr = s.Renew(r.Context())
		})
	})
	wg.Go(func() {
		<-loaded
		close(go2)
		revoked, endErr = end.run(c, ck, owner, keep)
	})
	wg.Wait()
	require.NoError(t, endErr, end.name)
	if renewErr != nil {
		require.ErrorIs(t, renewErr, session.ErrNotFound, "a renewal that lost the race")
	}
	live := liveHolding(t, c, owner, "n", keep)
	require.LessOrEqual(t, live, 1, "live sessions holding the data after %s raced a renewal", end.name)
	if revoked && live > 0 {
		return true
	}
	return false
}

// liveHolding counts the owner's live sessions in the engine that hold
// key, leaving out the session of skip.
func liveHolding(t *testing.T, c *Cluster, owner, key string, skip *http.Cookie) int {
	t.Helper()
	st := c.A().Store.Store
	list, err := st.(store.OwnerIndex).Owned(context.Background(), owner)
	require.NoError(t, err)
	n := 0
	for _, o := range list {
		if skip != nil && o.Key == store.Key(skip.Value) {
			continue
		}
		rec, err := st.Load(context.Background(), o.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		if _, ok := rec.Fields[key]; ok {
			n++
		}
	}
	return n
}

// writeThenRenew: a write acknowledged on B, then a renewal on A whose
// cached copy predates it. It returns 1 when the write was lost.
func writeThenRenew(t *testing.T, c *Cluster, i int) int {
	t.Helper()
	ck := c.A().Create("uid", Unique("owner-"), "n", int64(1))
	Warm(t, ck, 1, c.A(), c.B())
	cart := fmt.Sprintf("item-%d", i)
	require.NoError(t, c.B().Set(ck, "cart", cart))
	var got string
	renewed := c.A().Do(ck, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.Renew(r.Context()))
		got, _, _ = session.Value[string](s, "cart")
	})
	require.NotNil(t, renewed, "a renewal sends the new ID")
	rec, err := c.A().Store.Load(context.Background(), store.Key(renewed.Value))
	require.NoError(t, err)
	if string(rec.Fields["cart"]) == "" || got != cart {
		return 1
	}
	return 0
}

// increments runs n concurrent compare-and-set increments of one key,
// alternating between A and B, and returns how many were lost.
func increments(t *testing.T, c *Cluster, n int) int {
	t.Helper()
	ck := c.A().Create("n", int64(0))
	var wg sync.WaitGroup
	for i := range n {
		node := c.Nodes[i%2]
		wg.Go(func() {
			node.Do(ck, func(r *http.Request, s *session.Session) {
				_, err := session.Update(r.Context(), s, "n", func(v int64, _ bool) (int64, error) { return v + 1, nil })
				assert.NoError(t, err, "Update")
			})
		})
	}
	wg.Wait()
	// What the engine has, not a cached copy.
	rec, err := c.A().Store.Load(context.Background(), store.Key(ck.Value))
	require.NoError(t, err)
	stored := decodeUint(rec.Fields["n"])
	assert.Equal(t, int64(n), stored, "increments in the engine")
	// Both nodes read it back once the last change messages arrived.
	for _, node := range c.Nodes[:2] {
		Eventually(t, Wait, "node "+node.Name+" reads every increment", func() bool {
			v, _, _ := node.Get(ck, "n")
			return v == int64(n)
		})
	}
	return n - int(stored)
}

// decodeUint reads a non-negative msgpack integer (fixint, uint8/16,
// int8/16) as the runtime encodes counters.
func decodeUint(b []byte) int64 {
	switch {
	case len(b) == 1 && b[0] < 0x80:
		return int64(b[0])
	case len(b) == 2 && (b[0] == 0xcc || b[0] == 0xd0):
		return int64(b[1])
	case len(b) == 3 && (b[0] == 0xcd || b[0] == 0xd1):
		return int64(b[1])<<8 | int64(b[2])
	}
	return -1
}

// sizeLimit has A and B add distinct keys to one session until the
// default 1024-byte limit refuses them and returns the stored size.
func sizeLimit(t *testing.T, c *Cluster) int {
	t.Helper()
	ck := c.A().Create("seed", int64(0))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted = map[string]bool{"seed": true}
	)
	for g := range 4 {
		node := c.Nodes[g%2]
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("g%d-%03d", g, i)
				err := node.Set(ck, k, "0123456789abcdef0123")
				if err != nil {
					assert.ErrorIs(t, err, session.ErrTooLarge)
					return
				}
				mu.Lock()
				accepted[k] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rec, err := c.A().Store.Load(context.Background(), store.Key(ck.Value))
	require.NoError(t, err)
	size := store.Size(rec.Fields)
	require.LessOrEqual(t, size, session.DefaultMaxSize, "stored session size")
	for k := range rec.Fields {
		require.True(t, accepted[k], "a refused write of %s was stored", k)
	}
	require.Len(t, rec.Fields, len(accepted), "an accepted write is missing")
	return size
}

// popOnce sets a flash value on node A, rounds times, and pops it from
// four concurrent requests, two on each node (session.Pop). It returns
// the rounds in which more than one request got the value, and those in
// which none did.
func popOnce(t *testing.T, c *Cluster, rounds int) (double, missed int) {
	t.Helper()
	ck := c.A().Create("seed", 0)
	for round := range rounds {
		require.NoError(t, c.A().Set(ck, "flash", round))
		var got atomic.Int64
		var wg sync.WaitGroup
		for i := range 4 {
			node := c.Nodes[i%2]
			wg.Go(func() {
				node.Do(ck, func(r *http.Request, s *session.Session) {
					v, ok, err := session.Pop[int](r.Context(), s, "flash")
					assert.NoError(t, err)
					if ok {
						assert.Equal(t, round, v, "a flash of an earlier round came back")
						got.Add(1)
					}
				})
			})
		}
		wg.Wait()
		switch n := got.Load(); {
		case n > 1:
			double++
		case n == 0:
			missed++
		}
	}
	return double, missed
}

// detached checks sessions used outside a request (Manager.Load), rounds
// times: a session created on node A is loaded on node B, which reads
// A's value and increments it; A's own increment then starts from B's
// (no write lost), and after A destroys the session, B's handle fails
// with ErrNotFound rather than creating a session.
func detached(t *testing.T, c *Cluster, rounds int) {
	t.Helper()
	ctx := context.Background()
	for range rounds {
		ck := c.A().Create("n", 1)
		s, err := c.B().M.Load(ctx, ck.Value)
		require.NoError(t, err)
		n, ok, err := session.Value[int](s, "n")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 1, n)
		_, err = session.Update(ctx, s, "n", func(n int, _ bool) (int, error) { return n + 1, nil })
		require.NoError(t, err)
		c.A().Do(ck, func(r *http.Request, as *session.Session) {
			n, err := session.Update(r.Context(), as, "n", func(n int, _ bool) (int, error) { return n + 1, nil })
			require.NoError(t, err)
			assert.Equal(t, 3, n, "A's increment starts from B's")
		})
		c.A().Destroy(ck)
		err = s.Set(ctx, "n", 10)
		require.ErrorIs(t, err, session.ErrNotFound, "a detached handle to a destroyed session creates nothing")
	}
}
