package otelsession_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// unknownID is a well-formed session ID no engine holds.
const unknownID = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// sdk is a real OpenTelemetry SDK: a meter provider read by hand and a
// tracer provider whose spans are recorded.
type sdk struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

// newSDK returns an SDK shut down when the test ends.
func newSDK(t testing.TB) *sdk {
	t.Helper()
	s := &sdk{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() {
		_ = s.mp.Shutdown(context.Background())
		_ = s.tp.Shutdown(context.Background())
	})
	return s
}

// collect reads every metric now, by name.
func (s *sdk) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, s.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelsession.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrKey renders an attribute set as "k=v,k=v" (sorted by key; "" for
// no attribute).
func attrKey(s attribute.Set) string {
	return s.Encoded(attribute.DefaultEncoder())
}

// sums returns the data points of the int64 sum name, by attributes.
func sums(t testing.TB, ms map[string]metricdata.Metrics, name string) map[string]int64 {
	t.Helper()
	m, ok := ms[name]
	require.True(t, ok, "metric %s not reported", name)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "metric %s is a %T", name, m.Data)
	out := map[string]int64{}
	for _, p := range sum.DataPoints {
		out[attrKey(p.Attributes)] = p.Value
	}
	return out
}

// sum returns the one data point of the int64 sum name that has no
// attribute.
func sum(t testing.TB, ms map[string]metricdata.Metrics, name string) int64 {
	t.Helper()
	pts := sums(t, ms, name)
	require.Len(t, pts, 1, "metric %s", name)
	v, ok := pts[""]
	require.True(t, ok, "metric %s has attributes: %v", name, pts)
	return v
}

// histCounts returns the counts of the float64 histogram name, by
// attributes.
func histCounts(t testing.TB, ms map[string]metricdata.Metrics, name string) map[string]uint64 {
	t.Helper()
	m, ok := ms[name]
	require.True(t, ok, "metric %s not reported", name)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "metric %s is a %T", name, m.Data)
	out := map[string]uint64{}
	for _, p := range h.DataPoints {
		out[attrKey(p.Attributes)] = p.Count
	}
	return out
}

// nonZero drops the zero values of pts.
func nonZero(pts map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range pts {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// node is a manager on an engine, and the client's cookie.
type node struct {
	t   testing.TB
	m   *session.Manager
	mem *memstore.Store
}

// newNode returns a manager on engine (a fresh memory engine when nil)
// built with opts; it is closed when the test ends.
func newNode(t testing.TB, engine store.Store, opts ...session.Option) *node {
	t.Helper()
	var mem *memstore.Store
	if engine == nil {
		mem = memstore.New()
		t.Cleanup(func() { _ = mem.Close() })
		engine = mem
	}
	base := []session.Option{session.WithStore(engine), session.WithLogger(slog.New(slog.DiscardHandler))}
	m, err := session.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return &node{t: t, m: m, mem: mem}
}

// serve runs fn in a request with context ctx through the manager's
// middleware, with cookie c when not nil.
func (n *node) serve(ctx context.Context, c *http.Cookie, fn func(r *http.Request, s *session.Session)) *http.Response {
	n.t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	n.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(r, session.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

// create starts a session holding "n" = v and returns its cookie.
func (n *node) create(v int) *http.Cookie {
	n.t.Helper()
	resp := n.serve(context.Background(), nil, func(r *http.Request, s *session.Session) {
		require.NoError(n.t, s.Set(r.Context(), "n", v))
	})
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	n.t.Fatal("the first Set sent no cookie")
	return nil
}

// set sets "n" = v in the session of cookie c.
func (n *node) set(c *http.Cookie, v int) {
	n.t.Helper()
	n.serve(context.Background(), c, func(r *http.Request, s *session.Session) {
		require.NoError(n.t, s.Set(r.Context(), "n", v))
	})
}

// read reads "n" from the session of cookie c.
func (n *node) read(c *http.Cookie) (int, bool, error) {
	n.t.Helper()
	var (
		v   int
		ok  bool
		err error
	)
	n.serve(context.Background(), c, func(r *http.Request, s *session.Session) {
		v, ok, err = session.Value[int](s, "n")
	})
	return v, ok, err
}

// observed returns a Telemetry on s with opts, registered for the
// manager built from it: the manager observed both ways.
func observed(t testing.TB, s *sdk, engine store.Store, opts []otelsession.Option, sopts ...session.Option) (*node, *otelsession.Telemetry) {
	t.Helper()
	tel, err := otelsession.New(s.mp, s.tp, opts...)
	require.NoError(t, err)
	n := newNode(t, engine, append([]session.Option{session.WithObserver(tel)}, sopts...)...)
	unregister, err := tel.Register(n.m)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, unregister()) })
	return n, tel
}

// watchedBus is a bus that tells when a subscription is up, so a test
// publishes only once every manager listens ([bus.Local] delivers to
// the subscribers of the moment).
type watchedBus struct {
	bus.Bus
	up chan struct{}
}

// newWatchedBus wraps b.
func newWatchedBus(b bus.Bus) *watchedBus {
	return &watchedBus{Bus: b, up: make(chan struct{}, 16)}
}

// Subscribe implements bus.Bus.
func (w *watchedBus) Subscribe(ctx context.Context, deliver func(bus.Message), state func(up bool)) error {
	return w.Bus.Subscribe(ctx, deliver, func(up bool) {
		state(up)
		if up {
			w.up <- struct{}{}
		}
	})
}

// wait waits until n subscriptions have come up.
func (w *watchedBus) wait(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-w.up:
		case <-time.After(10 * time.Second):
			t.Fatal("the bus subscriptions did not come up")
		}
	}
}
