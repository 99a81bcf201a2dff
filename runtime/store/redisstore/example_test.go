package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// Example stores a session, writes one field and reads it back. It needs
// a Redis server (SESSIONGEN_REDIS_ADDR, default 127.0.0.1:6379); the
// session manager is what normally makes these calls.
func Example() {
	addr := os.Getenv("SESSIONGEN_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer client.Close()
	// For Redis Cluster: redis.NewClusterClient(&redis.ClusterOptions{Addrs: ...}).

	s, err := redisstore.New(client, redisstore.WithPrefix("example:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	key := store.Key("an example session ID")
	defer s.Delete(ctx, key)

	err = s.Create(ctx, key, store.Record{
		Fields:  map[string][]byte{"user": []byte("\xa3bob")},
		Created: time.Now(),
		Expires: time.Now().Add(30 * time.Minute),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// One round trip: only the changed field travels.
	if _, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"visits": {0x01}}}); err != nil {
		fmt.Println(err)
		return
	}
	rec, err := s.Load(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(rec.Fields), "fields")

	_ = s.Delete(ctx, key)
	_, err = s.Load(ctx, key)
	fmt.Println(errors.Is(err, store.ErrNotFound))
}

// ExampleWithPrefix gives an application its own key prefix. New does not
// contact the server, so it also runs without one; it refuses prefixes
// that would break the Cluster hash tag.
func ExampleWithPrefix() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	s, err := redisstore.New(client, redisstore.WithPrefix("shop:sess:"))
	fmt.Println(s != nil, err)

	_, err = redisstore.New(client, redisstore.WithPrefix("shop{1}:"))
	fmt.Println(err != nil)
	// Output:
	// true <nil>
	// true
}

// ExampleStore_Owned lists the sessions of one user ("log out
// everywhere" deletes each). It needs a Redis server
// (SESSIONGEN_REDIS_ADDR, default 127.0.0.1:6379).
func ExampleStore_Owned() {
	addr := os.Getenv("SESSIONGEN_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.WithPrefix("example-owned:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, id := range []string{"laptop session ID", "phone session ID"} {
		err := s.Create(ctx, store.Key(id), store.Record{
			Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: "user-42",
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	owned, err := s.Owned(ctx, "user-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range owned {
		_ = s.Delete(ctx, o.Key)
	}
	owned, err = s.Owned(ctx, "user-42")
	fmt.Println(len(owned), err)
}
