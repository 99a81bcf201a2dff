package otelsession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// The telemetry of a benchmark.
type telemetryMode int

const (
	off      telemetryMode = iota // no Telemetry
	on                            // metrics and traces, on the SDK
	untraced                      // metrics on the SDK, the no-op tracer
)

// modes are the sub-benchmarks.
var modes = []struct {
	name string
	mode telemetryMode
}{{"off", off}, {"on", on}}

// benchManager returns a manager on the memory engine and the cookie of
// an existing, cached session holding "n" = 42. With on, the manager is
// observed by a Telemetry on a real SDK (a meter provider with a manual
// reader, a tracer provider sampling everything) and registered with it;
// untraced is the same with the no-op tracer provider.
func benchManager(tb testing.TB, mode telemetryMode) (*session.Manager, *http.Cookie) {
	tb.Helper()
	mem := memstore.New()
	tb.Cleanup(func() { _ = mem.Close() })
	opts := []session.Option{session.WithStore(mem)}
	var tel *otelsession.Telemetry
	if mode != off {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		tp := sdktrace.NewTracerProvider()
		var tracing trace.TracerProvider = tp
		if mode == untraced {
			tracing = noop.NewTracerProvider()
		}
		tb.Cleanup(func() {
			var rm metricdata.ResourceMetrics
			require.NoError(tb, reader.Collect(context.Background(), &rm)) // the callback works
			_ = mp.Shutdown(context.Background())
			_ = tp.Shutdown(context.Background())
		})
		var err error
		tel, err = otelsession.New(mp, tracing, otelsession.WithEngineName("memory"))
		require.NoError(tb, err)
		opts = append(opts, session.WithObserver(tel))
	}
	m, err := session.New(opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = m.Close() })
	if tel != nil {
		unregister, err := tel.Register(m)
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = unregister() })
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(tb, session.FromContext(r.Context()).Set(r.Context(), "n", int64(42)))
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sid" {
			return m, c
		}
	}
	tb.Fatal("no session cookie")
	return nil, nil
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

var body = []byte("ok")

// readOnly is a handler reading "n" (42) from its session.
func readOnly(m *session.Manager) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok, err := session.Value[int64](session.FromContext(r.Context()), "n")
		if err != nil || !ok || n != 42 {
			panic("read failed")
		}
		_, _ = w.Write(body)
	}))
}

// setter is a handler setting "n" in its session: one engine call.
func setter(m *session.Manager) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set(r.Context(), "n", int64(43)); err != nil {
			panic(err)
		}
		_, _ = w.Write(body)
	}))
}

// runHandler serves the same request b.N times through h.
func runHandler(b *testing.B, h http.Handler, c *http.Cookie) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkHandlerReadOnly reads one value of an existing, cached
// session, with the telemetry off and on: a warm read makes no engine
// call, so "on" must cost nothing.
func BenchmarkHandlerReadOnly(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			m, c := benchManager(b, mode.mode)
			runHandler(b, readOnly(m), c)
		})
	}
}

// BenchmarkHandlerSet sets one value: one engine call, so a span and a
// duration with the telemetry on ("untraced": the duration only).
func BenchmarkHandlerSet(b *testing.B) {
	for _, mode := range append(modes, struct {
		name string
		mode telemetryMode
	}{"untraced", untraced}) {
		b.Run(mode.name, func(b *testing.B) {
			m, c := benchManager(b, mode.mode)
			runHandler(b, setter(m), c)
		})
	}
}

// BenchmarkCollect is one collection of every instrument of one
// registered manager.
func BenchmarkCollect(b *testing.B) {
	s := newSDK(b)
	n, _ := observed(b, s, nil, nil)
	n.create(1)
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := s.reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWarmReadAllocations: the telemetry adds no allocation to a warm
// read.
func TestWarmReadAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	allocs := func(mode telemetryMode) float64 {
		m, c := benchManager(t, mode)
		h := readOnly(m)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(c)
		w := &benchWriter{h: http.Header{}}
		return testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	}
	without, with := allocs(off), allocs(on)
	require.Equal(t, without, with, "allocations of a warm read: off %v, on %v", without, with)
}
