package redisbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
)

// Example subscribes one node and publishes from another. It needs a
// Redis server (SESSIONGEN_REDIS_ADDR, default 127.0.0.1:6379); the
// session manager is what normally makes these calls.
func Example() {
	addr := os.Getenv("SESSIONGEN_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	// For Redis Cluster: redis.NewClusterClient(&redis.ClusterOptions{Addrs: ...}).

	b, err := redisbus.New(client,
		redisbus.WithChannel("example:bus"),
		redisbus.WithLogger(slog.Default()))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := make(chan struct{}, 1)
	got := make(chan bus.Message, 1)
	go func() {
		_ = b.Subscribe(ctx,
			func(m bus.Message) { got <- m },
			func(ok bool) {
				if ok {
					up <- struct{}{}
				}
				// While down, a manager stops trusting its cache
				// beyond the staleness bound.
			})
	}()
	select {
	case <-up:
	case <-ctx.Done():
		fmt.Println("no subscription:", ctx.Err())
		return
	}

	err = b.Publish(ctx, bus.Message{Node: "node-b", Key: "c2Vzc2lvbi1rZXk", Version: 3, Kind: bus.Changed})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case m := <-got:
		fmt.Println(m.Node, m.Version)
	case <-ctx.Done():
		fmt.Println("nothing delivered:", ctx.Err())
	}
}

// ExampleNew shows that New checks its arguments without contacting the
// server, so it also runs without one.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	b, err := redisbus.New(client, redisbus.WithChannel("shop:sessions"), redisbus.WithHealthCheck(500*time.Millisecond))
	fmt.Println(b != nil, err)

	_, err = redisbus.New(client, redisbus.WithChannel(""))
	fmt.Println(err)
	// Output:
	// true <nil>
	// redisbus: new: invalid argument: empty channel name
}
