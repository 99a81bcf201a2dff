package pgbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
)

// Example subscribes one node and publishes from another. It needs a
// PostgreSQL server (SESSIONGEN_POSTGRES_DSN); the session manager is
// what normally makes these calls.
func Example() {
	dsn := os.Getenv("SESSIONGEN_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	b, err := pgbus.New(pool,
		pgbus.WithChannel("example_bus"),
		pgbus.WithApplicationName("example-bus"),
		pgbus.WithLogger(slog.Default()))
	if err != nil {
		fmt.Println(err)
		return
	}

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
		fmt.Println("not listening:", ctx.Err())
		return
	}

	err = b.Publish(ctx, bus.Message{Node: "node-b", Key: "c2Vzc2lvbi1rZXk", Kind: bus.Deleted})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case m := <-got:
		fmt.Println(m.Node, m.Kind == bus.Deleted)
	case <-ctx.Done():
		fmt.Println("nothing delivered:", ctx.Err())
	}
}

// ExampleNew shows that New checks its arguments without contacting the
// server, so it also runs without one.
func ExampleNew() {
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	b, err := pgbus.New(pool, pgbus.WithChannel("shop_sessions"))
	fmt.Println(b != nil, err)

	_, err = pgbus.New(pool, pgbus.WithChannel(""))
	fmt.Println(err)
	// Output:
	// true <nil>
	// pgbus: new: invalid argument: empty channel name
}
