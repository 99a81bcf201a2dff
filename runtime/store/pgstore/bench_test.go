package pgstore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// BenchmarkUpdateParallel: concurrent clients, each Updating one field
// of its own session, with group commit on (the default) and off
// (WithMaxGroup(1)), on a pool of the default size. items/group is the
// mean number of changes per round trip.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, clients := range []int{1, 8, 32, 128} {
		for _, mode := range []struct {
			name     string
			maxGroup int
		}{{"grouped", DefaultMaxGroup}, {"alone", 1}} {
			b.Run(fmt.Sprintf("clients=%d/%s", clients, mode.name), func(b *testing.B) {
				benchUpdateParallel(b, clients, mode.maxGroup)
			})
		}
	}
}

// benchUpdateParallel runs clients goroutines Updating their own
// sessions through a store sending at most maxGroup changes at once.
func benchUpdateParallel(b *testing.B, clients, maxGroup int) {
	s := newTestStore(b, testPool(b), tableOpt(b), WithCleanupInterval(0), WithMaxGroup(maxGroup))
	ctx := context.Background()
	keys := make([]string, clients)
	for i := range keys {
		keys[i] = storetest.NewKey(b)
		if err := s.Create(ctx, keys[i], enginetest.LiveRecord("n", "0")); err != nil {
			b.Fatal(err)
		}
	}
	g0, i0 := s.groupStats()
	var next atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines: the ones
	// past clients leave at once, and the others share b.N.
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := int(next.Add(1)) - 1
		if id >= clients {
			return
		}
		key := keys[id]
		for n := 1; pb.Next(); n++ {
			c := store.Change{Set: map[string][]byte{"n": []byte(strconv.Itoa(n))}}
			if _, err := s.Update(ctx, key, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if groups, items := s.groupStats(); groups > g0 {
		b.ReportMetric(float64(items-i0)/float64(groups-g0), "items/group")
	}
}
