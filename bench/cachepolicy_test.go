package bench

import (
	"container/list"
	"context"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	session "github.com/sessiongen/sessiongen/runtime"
)

// policyRequests is the length of BenchmarkCachePolicy's counted trace,
// in multiples of the population.
const policyRequests = 10

// policyCache is a cache under test: get reports whether key is cached,
// and on a miss the replay adds it; size is its number of entries now.
type policyCache interface {
	get(key int32) bool
	add(key int32)
	size() int
}

// BenchmarkCachePolicy replays one Zipf trace (s = 1.1, the distribution
// of BenchmarkPopulation, fixed seed) over P keys (the population of
// BenchmarkPopulation) through caches of P/10 entries, adding the key on
// every miss, and reports each cache's hit ratio (hit%) over 10 P
// requests that follow P/2 uncounted warm-up requests, and the largest
// number of entries seen in it (every 1,000 requests; maxsize):
//
//   - otter: an otter cache built with the runtime's options (see
//     Manager.newCache: MaximumSize, the cache TTL as ExpiryWriting, a
//     coarse clock, a stats recorder, an OnAtomicDeletion handler), read
//     and filled as Manager.get does (GetIfPresent, then Get with a
//     loader). Its maintenance (evictions included) runs on goroutines
//     of its own, so it may hold a few entries more than its maximum for
//     a moment;
//   - otter-sync: the same with an Executor that runs the maintenance on
//     the caller, so every write evicts before it returns: the size in
//     effect is exactly the maximum (the control for the above);
//   - lru: a plain least-recently-used list of the same capacity.
//
// ns/op is the time of a whole replay.
func BenchmarkCachePolicy(b *testing.B) {
	p := population(b)
	limit := p / cacheFraction
	warm := p / 2
	trace := zipfTrace(p, warm+policyRequests*p)
	caches := []struct {
		name string
		new  func(tb testing.TB, limit int) policyCache
	}{
		{"otter", func(tb testing.TB, limit int) policyCache { return newOtterPolicy(tb, limit, nil) }},
		{"otter-sync", func(tb testing.TB, limit int) policyCache {
			return newOtterPolicy(tb, limit, func(fn func()) { fn() })
		}},
		{"lru", func(_ testing.TB, limit int) policyCache { return newLRU(limit) }},
	}
	for _, c := range caches {
		b.Run(c.name, func(b *testing.B) {
			var hits, requests, largest int
			for b.Loop() {
				h, n, l := replay(c.new(b, limit), trace, warm)
				hits, requests, largest = hits+h, requests+n, max(largest, l)
			}
			b.ReportMetric(100*float64(hits)/float64(requests), "hit%")
			b.ReportMetric(float64(largest), "maxsize")
			if largest > 2*limit {
				b.Errorf("%s: held %d entries, more than twice its maximum of %d", c.name, largest, limit)
			}
		})
	}
}

// zipfTrace returns n keys drawn from BenchmarkPopulation's distribution
// over p keys, with a fixed seed.
func zipfTrace(p, n int) []int32 {
	z := newZipfPicker(permutation(p), 0x7ace, 1)
	trace := make([]int32, n)
	for i := range trace {
		trace[i] = int32(z.next())
	}
	return trace
}

// replay feeds trace to c, adding each key it misses, and returns the
// hits and the requests counted after the first warm ones, and the
// largest size of c seen (every 1,000 requests and at the end).
func replay(c policyCache, trace []int32, warm int) (hits, requests, largest int) {
	for i, k := range trace {
		hit := c.get(k)
		if !hit {
			c.add(k)
		}
		if i >= warm {
			requests++
			if hit {
				hits++
			}
		}
		if i%1000 == 0 {
			largest = max(largest, c.size())
		}
	}
	return hits, requests, max(largest, c.size())
}

// policyValue is what the caches hold; the runtime's cache holds a
// pointer to an entry.
type policyValue struct{ key int32 }

// otterPolicy is an otter cache as the runtime's Manager builds and uses
// it.
type otterPolicy struct {
	c      *otter.Cache[int32, *policyValue]
	loader otter.Loader[int32, *policyValue]
}

// newOtterPolicy returns an otter cache of limit entries with the
// runtime's options, and executor when not nil.
func newOtterPolicy(tb testing.TB, limit int, executor func(func())) *otterPolicy {
	tb.Helper()
	clock := otter.NewCoarseClock(time.Second) // the runtime's resolution for its 1-hour TTL
	c, err := otter.New(&otter.Options[int32, *policyValue]{
		MaximumSize:      limit,
		ExpiryCalculator: otter.ExpiryWriting[int32, *policyValue](session.DefaultCacheTTL),
		Clock:            clock,
		StatsRecorder:    stats.NewCounter(),
		OnAtomicDeletion: func(ev otter.DeletionEvent[int32, *policyValue]) {
			if ev.Cause != otter.CauseReplacement && ev.Value != nil {
				ev.Value.key = -1 // what the runtime's index removal stands for
			}
		},
		Executor: executor,
	})
	if err != nil {
		tb.Fatalf("otter.New: %v", err)
	}
	tb.Cleanup(func() {
		c.StopAllGoroutines()
		clock.Stop()
	})
	return &otterPolicy{
		c: c,
		loader: otter.LoaderFunc[int32, *policyValue](func(_ context.Context, k int32) (*policyValue, error) {
			return &policyValue{key: k}, nil
		}),
	}
}

func (o *otterPolicy) get(key int32) bool {
	_, ok := o.c.GetIfPresent(key)
	return ok
}

func (o *otterPolicy) add(key int32) {
	if _, err := o.c.Get(background, key, o.loader); err != nil {
		panic(err) // the loader does not fail
	}
}

func (o *otterPolicy) size() int { return o.c.EstimatedSize() }

// lru is a plain least-recently-used cache of keys: a list from the most
// to the least recently used, and a map from key to its list element.
type lru struct {
	limit int
	order *list.List
	elems map[int32]*list.Element
}

// newLRU returns an empty LRU of limit entries.
func newLRU(limit int) *lru {
	return &lru{limit: limit, order: list.New(), elems: make(map[int32]*list.Element, limit)}
}

// get reports whether key is cached and, if it is, makes it the most
// recently used.
func (c *lru) get(key int32) bool {
	e, ok := c.elems[key]
	if ok {
		c.order.MoveToFront(e)
	}
	return ok
}

// add caches key (absent) as the most recently used, first evicting the
// least recently used when the cache is full.
func (c *lru) add(key int32) {
	if c.order.Len() >= c.limit {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.elems, last.Value.(*policyValue).key)
	}
	c.elems[key] = c.order.PushFront(&policyValue{key: key})
}

func (c *lru) size() int { return c.order.Len() }

// TestLRU checks the reference policy of BenchmarkCachePolicy.
func TestLRU(t *testing.T) {
	c := newLRU(2)
	for _, k := range []int32{1, 2} {
		c.add(k)
	}
	if !c.get(1) { // 1 becomes the most recent: 2 is evicted next
		t.Fatal("1 not cached")
	}
	c.add(3)
	for k, want := range map[int32]bool{1: true, 2: false, 3: true} {
		if got := c.get(k); got != want {
			t.Errorf("get(%d) = %t, want %t", k, got, want)
		}
	}
	if c.size() != 2 {
		t.Errorf("size %d, want 2", c.size())
	}
}
