package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	bolt "go.etcd.io/bbolt"
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
		if _, err := s.Update(ctx, key, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVersion(b *testing.B) {
	ctx := context.Background()
	s, key := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Version(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOwned lists the 10 sessions of one owner in a file of 10,000
// sessions of 1,000 owners.
func BenchmarkOwned(b *testing.B) {
	ctx := context.Background()
	s, _ := benchStore(b)
	now := time.Now()
	// One transaction for all, as Create would write them.
	err := s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for i := range 10_000 {
			key := storetest.NewKey(b)
			h := header{created: now, expires: now.Add(time.Hour), version: 1, owner: fmt.Sprintf("user-%d", i%1000)}
			if err := bk.recs.Put([]byte(key), encodeRecord(h, nil)); err != nil {
				return err
			}
			if err := bk.index(key, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		owned, err := s.Owned(ctx, "user-42")
		if err != nil || len(owned) != 10 {
			b.Fatal(len(owned), err)
		}
	}
}

// BenchmarkUpdateParallel runs one-field Updates from 1, 8, 32 and 128
// concurrent clients, each on its own session, with group commit (the
// default) and without (WithMaxGroup(1)); "writes/commit" is the mean
// number of Updates per write transaction, so per pair of file syncs.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, clients := range []int{1, 8, 32, 128} {
		for _, mode := range []struct {
			name string
			max  int
		}{{"grouped", DefaultMaxGroup}, {"alone", 1}} {
			b.Run(fmt.Sprintf("clients=%d/%s", clients, mode.name), func(b *testing.B) {
				benchUpdateParallel(b, clients, mode.max)
			})
		}
	}
}

func benchUpdateParallel(b *testing.B, clients, maxGroup int) {
	ctx := context.Background()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), WithMaxGroup(maxGroup))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	keys := make(chan string, clients)
	for range clients {
		key := storetest.NewKey(b)
		if err := s.Create(ctx, key, store.Record{Fields: map[string][]byte{"n": {0}}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		keys <- key
	}
	groups0, items0 := s.group.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	// Exactly clients goroutines share b.N Updates (RunParallel would
	// start a multiple of GOMAXPROCS).
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		key := <-keys
		wg.Go(func() {
			c := store.Change{Set: map[string][]byte{"n": {1}}}
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Update(ctx, key, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	groups, items := s.group.Stats()
	if g := groups - groups0; g > 0 {
		b.ReportMetric(float64(items-items0)/float64(g), "writes/commit")
	}
}
