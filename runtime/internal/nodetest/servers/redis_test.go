package servers

import (
	"context"
	"github.com/sessiongen/sessiongen/runtime/internal/nodetest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// redisAddrVar names the environment variable with the Redis address.
const redisAddrVar = "SESSIONGEN_REDIS_ADDR"

// commandCounter is a go-redis hook that counts the commands a client
// sends (each command of a pipeline counts).
type commandCounter struct{ n *atomic.Int64 }

func (h commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// redisEnv is redisstore + redisbus on the server at
// SESSIONGEN_REDIS_ADDR; the test is skipped when it is unset and fails
// when the server does not answer.
func redisEnv(t testing.TB) nodetest.Env {
	t.Helper()
	addr := os.Getenv(redisAddrVar)
	if addr == "" {
		t.Skip(redisAddrVar + " is not set: skipping the Redis nodes (redisstore + redisbus)")
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s=%s: Redis does not answer: %v", redisAddrVar, addr, err)
	}
	return nodetest.Env{Name: "redis", Open: func(t testing.TB) nodetest.Backend {
		prefix := nodetest.Unique("nodetest:") + ":"
		channel := nodetest.Unique("nodetest-bus-")
		busName := nodetest.Unique("nodetest-bus-")
		var commands atomic.Int64
		t.Cleanup(func() { deleteKeys(t, admin, prefix) })
		return nodetest.Backend{
			Node: func(t testing.TB, _ int) (store.Store, bus.Bus) {
				sc := redis.NewClient(&redis.Options{Addr: addr})
				sc.AddHook(commandCounter{&commands})
				bc := redis.NewClient(&redis.Options{Addr: addr, ClientName: busName})
				t.Cleanup(func() { _ = sc.Close(); _ = bc.Close() })
				st, err := redisstore.New(sc, redisstore.WithPrefix(prefix))
				require.NoError(t, err)
				b, err := redisbus.New(bc, redisbus.WithChannel(channel))
				require.NoError(t, err)
				return st, b
			},
			Outage: func(t testing.TB) func() {
				killPubSub(t, admin, busName)
				return func() {}
			},
			Commands: commands.Load,
		}
	}}
}

// killPubSub ends the pub/sub connections of the clients named name (the
// nodes' buses), as a network failure or a server restart would.
func killPubSub(t testing.TB, admin *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := admin.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	require.NoError(t, err)
	killed := 0
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.Contains(" "+line+" ", " name="+name+" ") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
				killed++
			}
		}
	}
	require.GreaterOrEqual(t, killed, len(nodetest.NodeNames), "every node's subscription was killed")
}

// deleteKeys removes the keys under prefix (a test's own).
func deleteKeys(t testing.TB, admin *redis.Client, prefix string) {
	ctx := context.Background()
	var keys []string
	iter := admin.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleanup: scan: %v", err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := admin.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Logf("cleanup: del: %v", err)
			return
		}
		keys = keys[n:]
	}
}

func TestRedis(t *testing.T) {
	nodetest.Run(t, redisEnv(t))
}
