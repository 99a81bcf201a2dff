package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// Environment variables naming the servers the tests use.
const (
	envAddr    = "SESSIONGEN_REDIS_ADDR"
	envCluster = "SESSIONGEN_REDIS_CLUSTER_ADDRS"
)

// serverAddr returns the single Redis server from envAddr, skipping the
// test when the variable is unset.
func serverAddr(t *testing.T) string {
	t.Helper()
	return enginetest.Env(t, envAddr, "a Redis server", "host:port")
}

// newClient connects to addr and fails the test when the server does not
// answer. The client is closed when the test ends.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	ping(t, c, addr)
	return c
}

// ping fails the test unless c answers within five seconds.
func ping(t *testing.T, c redis.UniversalClient, where string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer: %v", where, err)
	}
}

// testPrefix returns a key prefix unique to this test run and deletes
// every key under it when the test ends.
func testPrefix(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	prefix := enginetest.UniqueName("sessiongen-test-") + ":"
	t.Cleanup(func() { deleteUnder(t, c, prefix) })
	return prefix
}

// deleteUnder deletes every key starting with prefix, on every master of
// a cluster.
func deleteUnder(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clean := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			if err := c.Del(ctx, it.Val()).Err(); err != nil {
				return err
			}
		}
		return it.Err()
	}
	var err error
	switch c := c.(type) {
	case *redis.Client:
		err = clean(ctx, c)
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, clean)
	}
	if err != nil {
		t.Errorf("cleaning up keys under %q: %v", prefix, err)
	}
}

// newStore returns a Store on c with a prefix unique to the test run.
func newStore(t *testing.T, c redis.UniversalClient, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.WithPrefix(prefix))
	require.NoError(t, err)
	return s
}

// testStore returns a client on the server from envAddr, a key prefix
// unique to the test and a Store using both.
func testStore(t *testing.T) (*redis.Client, string, *redisstore.Store) {
	t.Helper()
	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	return c, prefix, newStore(t, c, prefix)
}

func TestConformance(t *testing.T) {
	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

func TestTwoNodes(t *testing.T) {
	addr := serverAddr(t)
	a, b := newClient(t, addr), newClient(t, addr)
	prefix := testPrefix(t, a)
	storetest.TwoNodes(t, newStore(t, a, prefix), newStore(t, b, prefix))
}

// clusterClient returns a client on the cluster named by envCluster,
// skipping the test when the variable is unset.
func clusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	seeds := enginetest.Env(t, envCluster, "a Redis Cluster", "comma-separated host:port seeds")
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 strings.Split(seeds, ","),
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	ping(t, c, seeds)
	return c
}

func TestClusterConformance(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}

func TestClusterTwoNodes(t *testing.T) {
	a, b := clusterClient(t), clusterClient(t)
	prefix := testPrefix(t, a)
	storetest.TwoNodes(t, newStore(t, a, prefix), newStore(t, b, prefix))
}

// TestClusterSpreadsSessions checks that sessions land in different hash
// slots (the hash tag is the session key, not the prefix) on more than
// one master, and still load.
func TestClusterSpreadsSessions(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()

	slots := map[int64]bool{}
	for range 30 {
		key := storetest.NewKey(t)
		rec := store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Minute)}
		require.NoError(t, s.Create(ctx, key, rec))
		slot, err := c.ClusterKeySlot(ctx, prefix+"{"+key+"}").Result()
		require.NoError(t, err)
		want, err := c.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		assert.Equal(t, want, slot, "the session key must be the hash tag")
		slots[slot] = true
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, []byte("1"), got.Fields["a"])
	}
	assert.Greater(t, len(slots), 20, "30 random sessions should use many slots")

	var masters atomic.Int32 // ForEachMaster calls the function concurrently
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.Eval(ctx, `return #redis.call('KEYS', ARGV[1])`, nil, prefix+"*").Int()
		if n > 0 {
			masters.Add(1)
		}
		return err
	}))
	assert.Greater(t, masters.Load(), int32(1), "sessions should be spread over the masters")
}

// TestLayout checks how a session sits in Redis: one hash named
// prefix{key}, metadata under names starting with 0xff, and a PEXPIREAT at
// the session's expiry.
func TestLayout(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()

	key := storetest.NewKey(t)
	created := time.UnixMilli(time.Now().UnixMilli())
	expires := created.Add(10 * time.Minute)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"user": []byte("bob")}, Created: created, Expires: expires,
	}))

	name := prefix + "{" + key + "}"
	h, err := c.HGetAll(ctx, name).Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"user":  "bob",
		"\xffc": itoa(created.UnixMilli()),
		"\xffe": itoa(expires.UnixMilli()),
		"\xffv": "1",
	}, h)
	at, err := c.PExpireTime(ctx, name).Result()
	require.NoError(t, err)
	assert.Equal(t, expires.UnixMilli(), at.Milliseconds(), "PEXPIREAT at the expiry")

	later := expires.Add(time.Hour)
	require.NoError(t, update(ctx, s, key, store.Change{Expires: later}))
	at, err = c.PExpireTime(ctx, name).Result()
	require.NoError(t, err)
	assert.Equal(t, later.UnixMilli(), at.Milliseconds(), "Update moves the PEXPIREAT")

	require.NoError(t, update(ctx, s, key, store.Change{Set: map[string][]byte{"n": []byte("1")}}))
	at, err = c.PExpireTime(ctx, name).Result()
	require.NoError(t, err)
	assert.Equal(t, later.UnixMilli(), at.Milliseconds(), "Update without Expires keeps it")
	v, err := c.HGet(ctx, name, "\xffv").Result()
	require.NoError(t, err)
	assert.Equal(t, "3", v, "each Update adds one to the version")

	require.NoError(t, s.Delete(ctx, key))
	n, err := c.Exists(ctx, name).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestExpiredButNotPurged checks that a session whose stored expiry has
// passed counts as gone even while Redis still holds the hash.
func TestExpiredButNotPurged(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()

	key := storetest.NewKey(t)
	name := prefix + "{" + key + "}"
	past := time.Now().Add(-time.Second).UnixMilli()
	// A hash as redisstore writes it, but expired and still present (as
	// when PEXPIREAT lags or was removed).
	require.NoError(t, c.HSet(ctx, name, "a", "1", "\xffc", past-1000, "\xffe", past).Err())

	enginetest.ExpiredLeftover(t, s, key, func(t *testing.T) {
		h, err := c.HGetAll(ctx, name).Result()
		require.NoError(t, err)
		assert.NotContains(t, h, "b", "a refused Update writes nothing")
		assert.Equal(t, itoa(past), h["\xffe"], "a refused Update keeps the expiry")
	})
}

// TestForeignHash checks that a key holding something redisstore did not
// write (a hash without metadata, a string) gives ErrCorrupt naming the
// engine and the key, not a panic or a bogus session.
func TestForeignHash(t *testing.T) {
	c, prefix, s := testStore(t)
	ctx := context.Background()

	key := storetest.NewKey(t)
	require.NoError(t, c.HSet(ctx, prefix+"{"+key+"}", "a", "1").Err())
	_, err := s.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.Contains(t, err.Error(), "redisstore: load:")
	assert.Contains(t, err.Error(), key)

	str := storetest.NewKey(t)
	require.NoError(t, c.Set(ctx, prefix+"{"+str+"}", "a string", time.Minute).Err())
	_, err = s.Load(ctx, str)
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.Contains(t, err.Error(), "redisstore: load:")
	assert.Contains(t, err.Error(), "WRONGTYPE")
	err = update(ctx, s, str, store.Change{Set: map[string][]byte{"a": nil}})
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.Contains(t, err.Error(), "redisstore: update:")
}

func TestNewValidates(t *testing.T) {
	_, err := redisstore.New(nil)
	assert.ErrorContains(t, err, "redisstore: new: ")
	var nilClient *redis.Client
	_, err = redisstore.New(nilClient)
	assert.ErrorContains(t, err, "nil client")
	var nilCluster *redis.ClusterClient
	_, err = redisstore.New(nilCluster)
	assert.ErrorContains(t, err, "nil client")

	// A client on a closed port: New does not contact it.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, p := range []string{"a{b", "}", "{x}:"} {
		_, err = redisstore.New(c, redisstore.WithPrefix(p))
		assert.ErrorContainsf(t, err, "brace", "prefix %q", p)
	}
	s, err := redisstore.New(c, redisstore.WithPrefix(""), nil)
	require.NoError(t, err)
	assert.NotNil(t, s)
}

// TestBadInput checks that arguments the manager never sends are refused
// with an error before any round trip (the client points at a closed
// port, so a round trip would give a different error).
func TestBadInput(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	s, err := redisstore.New(c)
	require.NoError(t, err)
	enginetest.RefusesBadInput(t, "redisstore", s, "", "\xffe", "\xff")

	// Move refuses what Update refuses, and equal keys and a zero
	// expiry, before any round trip.
	exp := time.Now().Add(time.Hour)
	k := storetest.NewKey(t)
	for name, m := range map[string]struct {
		from, to string
		c        store.Change
	}{
		"empty from":   {"", k, store.Change{Expires: exp}},
		"empty to":     {k, "", store.Change{Expires: exp}},
		"equal keys":   {k, k, store.Change{Expires: exp}},
		"zero Expires": {k, storetest.NewKey(t), store.Change{}},
		"bad set":      {k, storetest.NewKey(t), store.Change{Expires: exp, Set: map[string][]byte{"\xffe": nil}}},
		"bad remove":   {k, storetest.NewKey(t), store.Change{Expires: exp, Remove: []string{""}}},
		"bad expect":   {k, storetest.NewKey(t), store.Change{Expires: exp, Expect: map[string][]byte{"\x01": nil}}},
	} {
		_, err := s.Move(context.Background(), m.from, m.to, m.c)
		assert.ErrorIsf(t, err, store.ErrInvalid, "Move %s", name)
		assert.ErrorContainsf(t, err, "redisstore: move: ", "Move %s", name)
	}
	_, err = s.Update(context.Background(), k, store.Change{Expect: map[string][]byte{"\xff": []byte("1")}})
	assert.ErrorIs(t, err, store.ErrInvalid, "Update with a bad expected key")

	// A valid call reaches the (closed) port and reports a wrapped network error.
	_, err = s.Load(context.Background(), storetest.NewKey(t))
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrNotFound)
	assert.Contains(t, err.Error(), "redisstore: load: ")
}

// itoa formats n in decimal.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// update applies c with s.Update and returns only the error.
func update(ctx context.Context, s store.Store, key string, c store.Change) error {
	_, err := s.Update(ctx, key, c)
	return err
}
