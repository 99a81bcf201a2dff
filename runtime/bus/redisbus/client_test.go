package redisbus_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
)

// client returns a client on srv that fails fast while it is down (one
// second to dial or write, one retry), with the given read timeout,
// closed at the end of the test.
func client(t testing.TB, srv *redisserver.Server, readTimeout time.Duration) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second, ReadTimeout: readTimeout,
		WriteTimeout: time.Second, MaxRetries: 1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
