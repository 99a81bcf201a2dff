package redisstore_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

func TestOwnerIndex(t *testing.T) {
	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

func TestClusterOwnerIndex(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

func TestVersioner(t *testing.T) {
	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	storetest.RunVersioner(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

func TestClusterVersioner(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	storetest.RunVersioner(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

// indexCount returns a count function for storetest.IndexBounded: the
// number of members of the owner's sorted set (ZCARD), stale ones
// included.
func indexCount(t *testing.T, c redis.UniversalClient, prefix string) func(owner string) int {
	return func(owner string) int {
		n, err := c.ZCard(context.Background(), indexKey(prefix, owner)).Result()
		require.NoError(t, err)
		return int(n)
	}
}

// indexKey is the name of the sorted set listing owner's sessions.
func indexKey(prefix, owner string) string {
	return prefix + "owner:{" + store.Key(owner) + "}"
}

func TestIndexBounded(t *testing.T) {
	c, prefix, s := testStore(t)
	storetest.IndexBounded(t, s, indexCount(t, c, prefix))
}

func TestClusterIndexBounded(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	storetest.IndexBounded(t, newStore(t, c, prefix), indexCount(t, c, prefix))
}

// TestOwnerLayout checks how the owner index sits in Redis: a sorted set
// per owner, the session key as member, a score past the session's
// expiry, and a PEXPIREAT at the highest score.
func TestOwnerLayout(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()
	const owner = "user {42}" // braces must not break the hash tag

	key := storetest.NewKey(t)
	now := time.Now()
	expires := time.UnixMilli(now.Add(10 * time.Minute).UnixMilli())
	require.NoError(t, s.Create(ctx, key, store.Record{Created: now, Expires: expires, Owner: owner}))

	name := prefix + "{" + key + "}"
	h, err := c.HGetAll(ctx, name).Result()
	require.NoError(t, err)
	assert.Equal(t, owner, h["\xffo"])
	assert.Equal(t, "1", h["\xffv"])
	zkey := indexKey(prefix, owner)
	score, err := c.ZScore(ctx, zkey, key).Result()
	require.NoError(t, err, "the session is listed under its owner")
	assert.Equal(t, h["\xffi"], strconv.FormatInt(int64(score), 10), "the hash records the entry's score")
	// Expiry plus four times the remaining lifetime (40 minutes), at
	// least an hour.
	assert.InDelta(t, float64(expires.Add(time.Hour).UnixMilli()), score, 1000)
	at, err := c.PExpireTime(ctx, zkey).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(score), at.Milliseconds(), "the set expires with its highest score")

	// Clearing the owner leaves a stale entry, which Owned removes.
	_, err = s.Update(ctx, key, store.Change{Owner: new("")})
	require.NoError(t, err)
	h, err = c.HGetAll(ctx, name).Result()
	require.NoError(t, err)
	assert.NotContains(t, h, "\xffo")
	assert.NotContains(t, h, "\xffi")
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Empty(t, owned)
	n, err := c.Exists(ctx, zkey).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the emptied set is gone")

	// Delete removes the entry at once.
	_, err = s.Update(ctx, key, store.Change{Owner: new(owner)})
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, key))
	n, err = c.ZCard(ctx, zkey).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "Delete removed the entry")
}

// TestIndexScoreRaised checks the invariant that keeps ZREMRANGEBYSCORE
// safe: when an Update moves a session's expiry past the score of its
// index entry, the entry's score is raised (a second command), and the
// set's PEXPIREAT follows.
func TestIndexScoreRaised(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()
	const owner = "raised"
	key := storetest.NewKey(t)
	now := time.Now()
	require.NoError(t, s.Create(ctx, key, store.Record{Created: now, Expires: now.Add(time.Minute), Owner: owner}))
	zkey := indexKey(prefix, owner)
	first, err := c.ZScore(ctx, zkey, key).Result()
	require.NoError(t, err)

	// Within the score: no index write.
	within := time.UnixMilli(int64(first) - 1000)
	v, err := s.Update(ctx, key, store.Change{Expires: within})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	score, err := c.ZScore(ctx, zkey, key).Result()
	require.NoError(t, err)
	assert.Equal(t, first, score)

	// Past it: the score is raised above the new expiry.
	later := time.UnixMilli(now.Add(48 * time.Hour).UnixMilli())
	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("1")}, Expires: later})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), v)
	score, err = c.ZScore(ctx, zkey, key).Result()
	require.NoError(t, err)
	assert.Greater(t, score, float64(later.UnixMilli()))
	h, err := c.HGet(ctx, prefix+"{"+key+"}", "\xffi").Result()
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatInt(int64(score), 10), h)
	at, err := c.PExpireTime(ctx, zkey).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(score), at.Milliseconds())

	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	assert.Equal(t, later, owned[0].Expires)
	assert.Equal(t, uint64(3), owned[0].Version)
}

// TestOwnedRepairs checks that Owned restores an entry whose score fell
// below its session's expiry (the invariant broken from outside).
func TestOwnedRepairs(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()
	const owner = "repair"
	key := storetest.NewKey(t)
	expires := time.Now().Add(time.Hour)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: expires, Owner: owner}))
	zkey := indexKey(prefix, owner)
	low := float64(time.Now().Add(time.Minute).UnixMilli())
	require.NoError(t, c.ZAdd(ctx, zkey, redis.Z{Score: low, Member: key}).Err())

	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	score, err := c.ZScore(ctx, zkey, key).Result()
	require.NoError(t, err)
	assert.Greater(t, score, float64(expires.UnixMilli()), "Owned raised the score past the expiry")
}

// TestIndexWriteFails makes the owner's index unwritable (a string under
// its name): Create and Update with that owner fail with an error naming
// the index, and once the index is writable again the next Update of the
// session lists it.
func TestIndexWriteFails(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()
	const owner = "blocked"
	zkey := indexKey(prefix, owner)
	require.NoError(t, c.Set(ctx, zkey, "not a sorted set", time.Hour).Err())

	key := storetest.NewKey(t)
	err := s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redisstore: create: owner index: ")
	assert.Contains(t, err.Error(), "WRONGTYPE")
	h, err := c.HGetAll(ctx, prefix+"{"+key+"}").Result()
	require.NoError(t, err)
	assert.Equal(t, owner, h["\xffo"], "the session was written")
	assert.NotContains(t, h, "\xffi", "without a confirmed index entry")

	other := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, other, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}))
	_, err = s.Update(ctx, other, store.Change{Owner: new(owner)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redisstore: update: owner index: ")

	// Like a network error, the failure says nothing of the session
	// write: here it took place (version 2).
	got, err := s.Load(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, owner, got.Owner)
	assert.Equal(t, uint64(2), got.Version)

	require.NoError(t, c.Del(ctx, zkey).Err())
	for k, want := range map[string]uint64{key: 2, other: 3} {
		v, err := s.Update(ctx, k, store.Change{Set: map[string][]byte{"n": []byte("1")}})
		require.NoError(t, err)
		assert.Equal(t, want, v)
	}
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Len(t, owned, 2, "the next Update wrote the missing entries")
}

// Compile-time check that the Store offers the optional capabilities.
var (
	_ store.Versioner  = (*redisstore.Store)(nil)
	_ store.OwnerIndex = (*redisstore.Store)(nil)
)

// TestPipelineScriptFallback runs the pipelined calls on a server that
// has cached no script: each EVALSHA answered NOSCRIPT (which ran
// nothing) is sent again as EVAL, once, and the writes take effect once.
func TestPipelineScriptFallback(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	c := client(t, srv, time.Second)
	s, err := redisstore.New(c)
	require.NoError(t, err)
	counter := &commandCounter{}
	c.AddHook(counter)
	ctx := context.Background()

	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: "a"}))
	assert.Equal(t, []string{"pipeline(evalsha,evalsha)", "eval", "eval"}, withoutHandshakes(counter.take()), "Create on a fresh server")

	require.NoError(t, c.ScriptFlush(ctx).Err())
	counter.take()
	v, err := s.Update(ctx, key, store.Change{Owner: new("b")})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v, "the Update ran once")
	assert.Equal(t, []string{"pipeline(evalsha,evalsha)", "eval", "eval"}, withoutHandshakes(counter.take()), "Update after SCRIPT FLUSH")

	for owner, n := range map[string]int{"a": 0, "b": 1} {
		owned, err := s.Owned(ctx, owner)
		require.NoError(t, err)
		assert.Len(t, owned, n, "sessions of %s", owner)
	}
}

// withoutHandshakes drops the commands a new connection sends first
// (HELLO, CLIENT SETINFO): the pool opens connections on demand.
func withoutHandshakes(trips []string) []string {
	return slices.DeleteFunc(trips, func(s string) bool {
		return s == "hello" || s == "client" || strings.HasPrefix(s, "pipeline(client")
	})
}

// indexOrder is a client hook that, before any command or pipeline
// holding an owner-index write of the given owner is sent, checks through
// another client that the session the write lists already names that
// owner, and records each write that would list a session before it.
type indexOrder struct {
	t       *testing.T
	check   redis.UniversalClient
	prefix  string
	owner   string
	mu      sync.Mutex
	seen    int      // index writes seen
	tooSoon []string // keys of sessions listed before they named the owner
}

func (h *indexOrder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *indexOrder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.inspect(ctx, []redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *indexOrder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.inspect(ctx, cmds)
		return next(ctx, cmds)
	}
}

// inspect checks the index writes among cmds: EVAL or EVALSHA with one
// key, the owner's set, and the listed session key as second argument.
func (h *indexOrder) inspect(ctx context.Context, cmds []redis.Cmder) {
	zkey := indexKey(h.prefix, h.owner)
	for _, cmd := range cmds {
		args := cmd.Args()
		if len(args) != 7 || args[3] != zkey {
			continue
		}
		key, ok := args[5].(string)
		require.True(h.t, ok, "index write args %v", args)
		got, err := h.check.HGet(ctx, h.prefix+"{"+key+"}", "\xffo").Result()
		h.mu.Lock()
		h.seen++
		if err != nil || got != h.owner {
			h.tooSoon = append(h.tooSoon, key)
		}
		h.mu.Unlock()
	}
}

// TestClusterIndexFollowsSession: on a Cluster, where a pipeline's
// commands for two masters run in parallel, a Create with an owner and an
// owner change, alone and in groups, write the owner-index entry only
// once the session names its owner. Else an Owned running between the
// two writes would drop the entry as stale and leave the session out of
// its owner's list for good: a revocation by owner would miss it. (A
// single server runs a pipeline in order: there the entry goes in the
// session's pipeline, behind it.) A Create refused with ErrExists writes
// no entry at all.
func TestClusterIndexFollowsSession(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	owner := "order-" + storetest.NewKey(t)
	h := &indexOrder{t: t, check: clusterClient(t), prefix: prefix, owner: owner}
	c.AddHook(h)

	const n = 16
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
	}
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			if i%2 == 0 {
				assert.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner}))
				return
			}
			if !assert.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1"))) {
				return
			}
			_, err := s.Update(ctx, key, store.Change{Owner: &owner})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	h.mu.Lock()
	assert.Equal(t, n, h.seen, "one index write per session")
	assert.Empty(t, h.tooSoon, "index writes sent before their session named the owner")
	h.mu.Unlock()
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Len(t, owned, n)

	other := "refused-" + storetest.NewKey(t)
	err = s.Create(ctx, keys[0], store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: other})
	require.ErrorIs(t, err, store.ErrExists)
	assert.Zero(t, indexCount(t, c, prefix)(other), "no entry for a refused Create")
}
