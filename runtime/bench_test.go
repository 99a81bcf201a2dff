package session

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// benchSetup returns a manager on memstore and the cookie of an existing,
// cached session holding "n" = 42.
func benchSetup(tb testing.TB, opts ...Option) (*Manager, *http.Cookie) {
	tb.Helper()
	mem := memstore.New()
	tb.Cleanup(func() { _ = mem.Close() })
	m, err := New(append([]Option{WithStore(mem)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = m.Close() })
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(tb, FromContext(r.Context()).Set(r.Context(), "n", int64(42)))
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	c := sidCookie(rec.Result())
	require.NotNil(tb, c)
	return m, c
}

// benchWriter is a minimal reusable ResponseWriter, so the harness itself
// allocates as little as possible.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// runHandler serves the same request b.N times through h.
func runHandler(b *testing.B, h http.Handler, c *http.Cookie) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		req.AddCookie(c)
	}
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

var body = []byte("ok")

// BenchmarkBareHandler is the baseline: the handler alone.
func BenchmarkBareHandler(b *testing.B) {
	_, c := benchSetup(b)
	runHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	}), c)
}

// BenchmarkHandlerReadOnly reads one value of an existing, cached session.
func BenchmarkHandlerReadOnly(b *testing.B) {
	m, c := benchSetup(b)
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok, err := Value[int64](FromContext(r.Context()), "n")
		if err != nil || !ok || n != 42 {
			b.Fatal("read failed", n, ok, err)
		}
		_, _ = w.Write(body)
	})), c)
}

// BenchmarkHandlerReadOnlyWithBus is BenchmarkHandlerReadOnly on a
// manager subscribed to a bus (the read path checks freshness only).
func BenchmarkHandlerReadOnlyWithBus(b *testing.B) {
	l := bus.NewLocal()
	m, c := benchSetup(b, WithBus(l), WithLogger(slog.New(slog.DiscardHandler)))
	for !m.busUp.Load() {
		time.Sleep(time.Millisecond)
	}
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok, err := Value[int64](FromContext(r.Context()), "n")
		if err != nil || !ok || n != 42 {
			b.Fatal("read failed", n, ok, err)
		}
		_, _ = w.Write(body)
	})), c)
}

// BenchmarkHandlerSetWithBus is BenchmarkHandlerSet on a manager that
// publishes each change on a bus (queued; a goroutine sends it).
func BenchmarkHandlerSetWithBus(b *testing.B) {
	m, c := benchSetup(b, WithBus(bus.NewLocal()), WithLogger(slog.New(slog.DiscardHandler)))
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Set(r.Context(), "n", int64(43)); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(body)
	})), c)
}

// BenchmarkHandlerUntouched passes through the middleware without using
// the session.
func BenchmarkHandlerUntouched(b *testing.B) {
	m, c := benchSetup(b)
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	})), c)
}

// BenchmarkHandlerSet does one Set on an existing session (Immediate, one
// engine write on memstore).
func BenchmarkHandlerSet(b *testing.B) {
	m, c := benchSetup(b)
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Set(r.Context(), "n", int64(43)); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(body)
	})), c)
}

// BenchmarkValueInt64CacheHit is a typed read of a cached session.
func BenchmarkValueInt64CacheHit(b *testing.B) {
	m, c := benchSetup(b)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		if _, _, err := Value[int64](s, "n"); err != nil { // resolve once
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			n, ok, err := Value[int64](s, "n")
			if err != nil || !ok || n != 42 {
				b.Fatal("read failed")
			}
		}
	})).ServeHTTP(httptest.NewRecorder(), req)
}

func TestValueInt64CacheHitAllocatesNothing(t *testing.T) {
	m, c := benchSetup(t)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		_, _, err := Value[int64](s, "n")
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			n, ok, err := Value[int64](s, "n")
			if err != nil || !ok || n != 42 {
				panic("read failed")
			}
		})
		require.Zero(t, allocs)
		allocs = testing.AllocsPerRun(100, func() {
			if _, ok, err := s.Raw("n"); err != nil || !ok {
				panic("raw failed")
			}
		})
		require.Zero(t, allocs, "Raw allocates nothing either")
	})).ServeHTTP(httptest.NewRecorder(), req)
}

func TestReadOnlyRequestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	m, c := benchSetup(t)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	w := &benchWriter{h: http.Header{}}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	withSession := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := Value[int64](FromContext(r.Context()), "n"); err != nil {
			panic(err)
		}
		_, _ = w.Write(body)
	}))
	base := testing.AllocsPerRun(200, func() { bare.ServeHTTP(w, req) })
	got := testing.AllocsPerRun(200, func() { withSession.ServeHTTP(w, req) })
	require.LessOrEqual(t, got-base, 4.0, "a read-only request adds at most 4 allocations")
	require.Empty(t, w.h.Values("Set-Cookie"))
}
