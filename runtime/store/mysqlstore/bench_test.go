package mysqlstore

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// benchPool is the connection pool of the benchmarks' db: like a
// production pool, and below the server's default max_connections (151)
// with room for other clients.
const benchPool = 64

// BenchmarkUpdateParallel runs one-field Updates of distinct sessions
// (one per client) from 1, 8, 32 and 128 concurrent clients, with group
// commit on (the default) and off (WithMaxGroup(1)). items/group is the
// mean number of changes a group committed (1 when off).
func BenchmarkUpdateParallel(b *testing.B) {
	db := testDB(b)
	db.SetMaxOpenConns(benchPool)
	db.SetMaxIdleConns(benchPool)
	table := tableOpt(b)
	newTestStore(b, db, table, WithCreateSchema(true), WithCleanupInterval(0))
	// On and off side by side at each client count, so that both see
	// the same load from the rest of the machine.
	for _, clients := range []int{1, 8, 32, 128} {
		for _, grouping := range []struct {
			name string
			max  int
		}{{"on", DefaultMaxGroup}, {"off", 1}} {
			b.Run(fmt.Sprintf("clients=%d/group=%s", clients, grouping.name), func(b *testing.B) {
				s := newTestStore(b, db, table, WithCleanupInterval(0), WithMaxGroup(grouping.max))
				ctx := context.Background()
				keys := make([]string, clients)
				for i := range keys {
					keys[i] = storetest.NewKey(b)
					if err := s.Create(ctx, keys[i], enginetest.LiveRecord("n", "0")); err != nil {
						b.Fatal(err)
					}
				}
				groups, items := s.groupCounts()
				// RunParallel starts parallelism*GOMAXPROCS goroutines:
				// the ones past clients leave at once, and the others
				// share all b.N iterations.
				b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				var next atomic.Int64
				value := []byte("1")
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(next.Add(1) - 1)
					if i >= clients {
						return
					}
					c := store.Change{Set: map[string][]byte{"n": value}}
					for pb.Next() {
						if _, err := s.Update(ctx, keys[i], c); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				perGroup := 1.0
				if g, it := s.groupCounts(); g > groups {
					perGroup = float64(it-items) / float64(g-groups)
				}
				b.ReportMetric(perGroup, "items/group")
			})
		}
	}
}
