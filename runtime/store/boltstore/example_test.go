package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")
	ctx := context.Background()
	key := store.Key("session ID from a cookie")

	// First run of the program: write a session.
	s, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	err = s.Create(ctx, key, store.Record{
		Fields:  map[string][]byte{"user": []byte("alice")},
		Created: now,
		Expires: now.Add(24 * time.Hour),
		Owner:   "alice",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	// Next run: the session is still there.
	s, err = boltstore.Open(path, boltstore.WithCleanupInterval(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rec, err := s.Load(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	owned, err := s.Owned(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(rec.Fields["user"]), rec.Version, len(owned))
	// Output: alice 1 1
}

func ExampleOpen_locked() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")

	s, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A second Open of a file in use fails after the open timeout.
	_, err = boltstore.Open(path, boltstore.WithOpenTimeout(50*time.Millisecond))
	fmt.Println(err != nil)
	// Output: true
}
