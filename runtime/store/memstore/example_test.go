package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

func Example() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()

	key := store.Key("session ID from a cookie")
	now := time.Now()
	err := s.Create(ctx, key, store.Record{
		Fields:  map[string][]byte{"user": []byte("alice")},
		Created: now,
		Expires: now.Add(30 * time.Minute),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Write one field and remove none; other fields stay as they are.
	version, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"theme": []byte("dark")}})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec, err := s.Load(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(rec.Fields["user"]), string(rec.Fields["theme"]), version, rec.Version)

	_ = s.Delete(ctx, key)
	_, err = s.Load(ctx, key)
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// alice dark 2 2
	// true
}

func ExampleStore_Owned() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()

	// Two sessions of alice (say, a laptop and a phone), one of bob.
	now := time.Now()
	for i, owner := range []string{"alice", "alice", "bob"} {
		key := store.Key(fmt.Sprint("session ID ", i))
		rec := store.Record{Created: now, Expires: now.Add(time.Hour), Owner: owner}
		if err := s.Create(ctx, key, rec); err != nil {
			fmt.Println(err)
			return
		}
	}

	// Log alice out everywhere.
	owned, err := s.Owned(ctx, "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("alice has", len(owned), "sessions")
	for _, o := range owned {
		if err := s.Delete(ctx, o.Key); err != nil {
			fmt.Println(err)
			return
		}
	}
	owned, _ = s.Owned(ctx, "alice")
	fmt.Println("alice has", len(owned), "sessions")
	// Output:
	// alice has 2 sessions
	// alice has 0 sessions
}

func ExampleWithCleanupInterval() {
	// Purge expired sessions every 10 seconds instead of every minute.
	s := memstore.New(memstore.WithCleanupInterval(10 * time.Second))
	defer s.Close()
	fmt.Println(s.Len())
	// Output: 0
}
