package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// benchStore opens a store with one typical session (8 fields, about 200
// bytes) and returns it with the session's key.
func benchStore(b *testing.B) (*Store, string) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	f := make(map[string][]byte, 8)
	for i := range 8 {
		f[fmt.Sprintf("field-%d", i)] = make([]byte, 16)
	}
	key := storetest.NewKey(b)
	rec := store.Record{Fields: f, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	if err := s.Create(context.Background(), key, rec); err != nil {
		b.Fatal(err)
	}
	return s, key
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s, key := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate includes bbolt's fsync of every write transaction.
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s, key := benchStore(b)
	c := store.Change{Set: map[string][]byte{"field-1": make([]byte, 16)}}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(ctx, key, c); err != nil {
			b.Fatal(err)
		}
	}
}
