package redisbus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
)

// Environment variables naming the servers the tests use.
const (
	envAddr    = "SESSIONGEN_REDIS_ADDR"
	envCluster = "SESSIONGEN_REDIS_CLUSTER_ADDRS"
)

// env returns the value of the variable name, skipping the test when it
// is unset.
func env(t *testing.T, name, what, form string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		t.Skipf("%s is not set: skipping tests against %s (set it to %s)", name, what, form)
	}
	return v
}

// serverAddr returns the single Redis server from envAddr, skipping the
// test when the variable is unset.
func serverAddr(t *testing.T) string {
	t.Helper()
	return env(t, envAddr, "a Redis server", "host:port")
}

// clusterSeeds returns the Cluster seeds from envCluster, skipping the
// test when the variable is unset.
func clusterSeeds(t *testing.T) []string {
	t.Helper()
	return strings.Split(env(t, envCluster, "a Redis Cluster", "comma-separated host:port seeds"), ",")
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

// newClusterClient connects to the cluster from seeds and fails the test
// when it does not answer.
func newClusterClient(t *testing.T, seeds []string) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	ping(t, c, strings.Join(seeds, ","))
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

// newBus returns a Bus on c and channel.
func newBus(t *testing.T, c redis.UniversalClient, channel string, opts ...redisbus.Option) *redisbus.Bus {
	t.Helper()
	b, err := redisbus.New(c, append([]redisbus.Option{redisbus.WithChannel(channel)}, opts...)...)
	require.NoError(t, err)
	return b
}

// transport is the shared tests' view of redisbus on clients from
// newClient.
func transport(newClient func(t *testing.T) redis.UniversalClient) bustest.Transport {
	return bustest.Transport{
		Name: "redisbus",
		New: func(t *testing.T, channel string) bus.Bus {
			return newBus(t, newClient(t), channel)
		},
		Inject: func(t *testing.T, channel, payload string) {
			c := newClient(t)
			require.NoError(t, c.Publish(context.Background(), channel, payload).Err())
		},
		Malformed: func(b bus.Bus) uint64 { return b.(*redisbus.Bus).Malformed() },
	}
}

func TestBus(t *testing.T) {
	addr := serverAddr(t)
	bustest.Run(t, transport(func(t *testing.T) redis.UniversalClient { return newClient(t, addr) }))
}

func TestClusterBus(t *testing.T) {
	seeds := clusterSeeds(t)
	bustest.Run(t, transport(func(t *testing.T) redis.UniversalClient { return newClusterClient(t, seeds) }))
}

// TestClusterAnyNode publishes through a plain client on every node of
// the cluster and receives everything through a ClusterClient, which
// subscribes on one node only. Messages entering through different nodes
// may arrive in any order (they reach the subscriber's node over the
// cluster bus); a ClusterClient's own messages arrive in order (see
// TestClusterBus/Order).
func TestClusterAnyNode(t *testing.T) {
	seeds := clusterSeeds(t)
	ch := bustest.Channel()
	sub := newBus(t, newClusterClient(t, seeds), ch)
	r := bustest.Subscribe(t, sub)
	r.WaitUps(1, bustest.Wait)

	var want []bus.Message
	for i, seed := range seeds {
		m := bustest.Msg(seed, "key", uint64(i+1))
		bustest.Publish(t, newBus(t, newClient(t, seed), ch), m)
		want = append(want, m)
	}
	m := bustest.Msg("cluster", "key", uint64(len(seeds)+1))
	bustest.Publish(t, newBus(t, newClusterClient(t, seeds), ch), m)
	want = append(want, m)
	assert.ElementsMatch(t, want, r.WaitMessages(len(want), bustest.Wait))
}

func TestNewInvalid(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, f := range map[string]func() (*redisbus.Bus, error){
		"nil client":         func() (*redisbus.Bus, error) { return redisbus.New(nil) },
		"nil *Client":        func() (*redisbus.Bus, error) { return redisbus.New((*redis.Client)(nil)) },
		"nil *ClusterClient": func() (*redisbus.Bus, error) { return redisbus.New((*redis.ClusterClient)(nil)) },
		"empty channel":      func() (*redisbus.Bus, error) { return redisbus.New(c, redisbus.WithChannel("")) },
		"zero health check":  func() (*redisbus.Bus, error) { return redisbus.New(c, redisbus.WithHealthCheck(0)) },
	} {
		b, err := f()
		assert.Nil(t, b, name)
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "redisbus: new: "), "%s: %v", name, err)
	}
	b, err := redisbus.New(c, nil, redisbus.WithLogger(nil))
	require.NoError(t, err, "nil options are ignored")
	assert.NotNil(t, b)
}

// TestMalformedLogged checks that a skipped payload is logged, without
// its content.
func TestMalformedLogged(t *testing.T) {
	addr := serverAddr(t)
	ch := bustest.Channel()
	var logs bustest.LogBuffer
	sub := newBus(t, newClient(t, addr), ch, redisbus.WithLogger(logs.Logger()))
	bustest.MalformedLogged(t, transport(func(t *testing.T) redis.UniversalClient { return newClient(t, addr) }), sub, ch, &logs)
}
