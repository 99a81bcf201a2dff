package session

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// footprintSessions is how many sessions BenchmarkCacheFootprint caches:
// the default cache limit.
const footprintSessions = DefaultCacheLimit

// footprintFields returns the fields of session i: five keys, about 200
// encoded bytes in all (keys included), like a typical login session.
func footprintFields(tb testing.TB, i int) map[string][]byte {
	tb.Helper()
	enc := func(v any) []byte {
		b, err := encode(v)
		require.NoError(tb, err)
		return b
	}
	return map[string][]byte{
		"user_id": enc(int64(1_000_000 + i)),
		"email":   enc(fmt.Sprintf("user%07d@example.com", i)),
		"name":    enc(fmt.Sprintf("Firstname Lastname %07d", i)),
		"csrf":    enc("Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy"),
		"flash":   enc("Your profile was saved. Welcome back to the dashboard!!"),
	}
}

// footprint loads n sessions of about 200 encoded bytes from a memory
// engine into a fresh manager's cache through the middleware, as
// requests carrying their cookies do, and returns the heap the cache
// holds per session: the live heap after a collection, less the live
// heap before the first load.
func footprint(tb testing.TB, n int) float64 {
	tb.Helper()
	ctx := context.Background()
	mem := memstore.New()
	defer func() { _ = mem.Close() }()
	ids := make([]string, n)
	now := time.Now()
	for i := range ids {
		id, err := identity.NewID()
		require.NoError(tb, err)
		ids[i] = id
		rec := store.Record{Fields: footprintFields(tb, i), Created: now, Expires: now.Add(DefaultIdleTimeout)}
		require.NoError(tb, mem.Create(ctx, store.Key(id), rec))
	}
	m, err := New(WithStore(freshKeys{mem}), WithCacheLimit(n))
	require.NoError(tb, err)
	defer func() { _ = m.Close() }()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok, err := FromContext(r.Context()).Raw("user_id"); err != nil || !ok {
			panic(fmt.Sprint("footprint: session not loaded: ", ok, err))
		}
	}))
	w := &benchWriter{h: http.Header{}}
	req := httptest.NewRequest(http.MethodGet, "/", nil)

	before := liveHeap()
	for _, id := range ids {
		// A fresh header per request, as a server reads it, with other
		// cookies around the session's: the cache must not keep it.
		req.Header["Cookie"] = []string{"theme=dark; sid=" + id + "; lang=en"}
		h.ServeHTTP(w, req)
	}
	req.Header["Cookie"] = nil
	after := liveHeap()
	require.EqualValues(tb, n, m.cache.EstimatedSize(), "every session stays cached")
	runtime.KeepAlive(ids)
	runtime.KeepAlive(mem)
	runtime.KeepAlive(m)
	return float64(after-before) / float64(n)
}

// freshKeys is an engine whose loads return field names of their own,
// as an engine across a network does (memstore shares its map keys).
type freshKeys struct{ store.Store }

func (f freshKeys) Load(ctx context.Context, key string) (store.Record, error) {
	rec, err := f.Store.Load(ctx, key)
	if err != nil {
		return rec, err
	}
	fields := make(map[string][]byte, len(rec.Fields))
	for k, v := range rec.Fields {
		fields[strings.Clone(k)] = v
	}
	rec.Fields = fields
	return rec, nil
}

// liveHeap returns the bytes of live heap objects after a full
// collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkCacheFootprint reports the heap one cached session costs
// (B/session) with 100,000 sessions of about 200 encoded bytes over five
// fields in the cache, loaded from the engine by requests: about 520
// bytes (WithCacheLimit documents it). Each iteration loads them all:
//
//	go test -run '^$' -bench CacheFootprint -benchtime 1x ./runtime/
func BenchmarkCacheFootprint(b *testing.B) {
	var per float64
	for b.Loop() {
		per = footprint(b, footprintSessions)
	}
	b.ReportMetric(per, "B/session")
}

// TestCacheFootprint keeps a cached session, measured as the benchmark
// does on fewer sessions, under 600 bytes (about 520 at 100,000, as
// WithCacheLimit documents; a little more on fewer).
func TestCacheFootprint(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("heap measurement")
	}
	per := footprint(t, 20_000)
	t.Logf("%.0f bytes per cached session", per)
	assert.Less(t, per, 600.0)
}

// TestCachedTypesStaySmall guards the sizes the footprint was measured
// with: a field more in either type moves it to the next size class.
func TestCachedTypesStaySmall(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes measured on 64-bit platforms")
	}
	assert.EqualValues(t, 48, unsafe.Sizeof(entry{}), "entry")
	assert.EqualValues(t, 64, unsafe.Sizeof(snapshot{}), "snapshot")
}
