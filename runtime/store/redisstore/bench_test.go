package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// BenchmarkUpdateParallel runs one-field Updates from 1, 8, 32 and 128
// concurrent clients, each on a session of its own, with grouping on
// (the default) and off (WithMaxGroup(1)), against the server from
// SESSIONGEN_REDIS_ADDR. It reports the mean number of changes per
// group (items/group; 1 with grouping off).
func BenchmarkUpdateParallel(b *testing.B) {
	addr := enginetest.Env(b, envAddr, "a Redis server", "host:port")
	// A pool as large as the clients, so grouping off is not held back
	// by waits for a connection.
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 256, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		b.Fatalf("Redis at %s does not answer: %v", addr, err)
	}
	prefix := enginetest.UniqueName("sessiongen-bench-") + ":"
	b.Cleanup(func() { deleteUnder(b, c, prefix) })

	for _, mode := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"grouping=on", nil},
		{"grouping=off", []redisstore.Option{redisstore.WithMaxGroup(1)}},
	} {
		for _, clients := range []int{1, 8, 32, 128} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode.name, clients), func(b *testing.B) {
				s, err := redisstore.New(c, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, mode.opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				keys := make([]string, clients)
				for i := range keys {
					keys[i] = storetest.NewKey(b)
					rec := store.Record{Fields: map[string][]byte{"n": {0}}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
					if err := s.Create(ctx, keys[i], rec); err != nil {
						b.Fatal(err)
					}
					// Warm up the scripts.
					if _, err := s.Update(ctx, keys[i], store.Change{Set: map[string][]byte{"n": {1}}}); err != nil {
						b.Fatal(err)
					}
				}
				// RunParallel starts parallelism × GOMAXPROCS goroutines;
				// those past the number of clients do nothing.
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((clients + procs - 1) / procs)
				var next atomic.Int64
				g0, i0 := redisstore.GroupStats(s)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(next.Add(1)) - 1
					if i >= clients {
						return
					}
					change := store.Change{Set: map[string][]byte{"n": {byte(i)}}}
					for pb.Next() {
						if _, err := s.Update(ctx, keys[i], change); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				g1, i1 := redisstore.GroupStats(s)
				perGroup := 1.0
				if g1 > g0 {
					perGroup = float64(i1-i0) / float64(g1-g0)
				}
				b.ReportMetric(perGroup, "items/group")
			})
		}
	}
}
