package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// benchRecord is a typical session: 8 fields, about 200 bytes.
func benchRecord() store.Record {
	f := make(map[string][]byte, 8)
	for i := range 8 {
		f[fmt.Sprintf("field-%d", i)] = make([]byte, 16)
	}
	return store.Record{Fields: f, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s := New()
	defer s.Close()
	key := storetest.NewKey(b)
	if err := s.Create(ctx, key, benchRecord()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	s := New()
	defer s.Close()
	key := storetest.NewKey(b)
	if err := s.Create(ctx, key, benchRecord()); err != nil {
		b.Fatal(err)
	}
	c := store.Change{Set: map[string][]byte{"field-1": make([]byte, 16)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Update(ctx, key, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	ctx := context.Background()
	s := New()
	defer s.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = storetest.NewKey(b)
		if err := s.Create(ctx, keys[i], benchRecord()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Load(ctx, keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
