package otelsession_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
)

// TestInstruments pins every instrument's name, kind and unit.
func TestInstruments(t *testing.T) {
	s := newSDK(t)
	n, tel := observed(t, s, nil, nil)
	n.create(1)
	tel.BusLag(time.Millisecond)
	ms := s.collect(t)

	type want struct {
		unit       string
		kind       string // "counter", "updown" or "histogram"
		attributes string // the attribute keys of one data point
	}
	wants := map[string]want{
		otelsession.MetricCacheHits:       {"{hit}", "counter", ""},
		otelsession.MetricCacheMisses:     {"{miss}", "counter", ""},
		otelsession.MetricCacheEvictions:  {"{eviction}", "counter", ""},
		otelsession.MetricCacheSessions:   {"{session}", "updown", ""},
		otelsession.MetricEngineCalls:     {"{call}", "counter", "op,outcome"},
		otelsession.MetricEngineDuration:  {"s", "histogram", "op,outcome"},
		otelsession.MetricBusMessages:     {"{message}", "counter", "direction"},
		otelsession.MetricBusLag:          {"s", "histogram", ""},
		otelsession.MetricUpdateConflicts: {"{conflict}", "counter", ""},
		otelsession.MetricUpdateRetries:   {"{retry}", "counter", ""},
		otelsession.MetricHooksDropped:    {"{event}", "counter", ""},
	}
	assert.Len(t, ms, len(wants))
	for name, w := range wants {
		m, ok := ms[name]
		if !assert.True(t, ok, "%s not reported", name) {
			continue
		}
		assert.Equal(t, w.unit, m.Unit, name)
		assert.NotEmpty(t, m.Description, name)
		var keys []string
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			assert.Equal(t, metricdata.CumulativeTemporality, d.Temporality, name)
			if w.kind == "counter" {
				assert.True(t, d.IsMonotonic, name)
			} else {
				assert.Equal(t, "updown", w.kind, name)
				assert.False(t, d.IsMonotonic, name)
			}
			require.NotEmpty(t, d.DataPoints, name)
			for _, kv := range d.DataPoints[0].Attributes.ToSlice() {
				keys = append(keys, string(kv.Key))
			}
		case metricdata.Histogram[float64]:
			assert.Equal(t, "histogram", w.kind, name)
			require.NotEmpty(t, d.DataPoints, name)
			assert.Less(t, d.DataPoints[0].Bounds[0], 0.01, "%s: bounds in seconds", name)
			for _, kv := range d.DataPoints[0].Attributes.ToSlice() {
				keys = append(keys, string(kv.Key))
			}
		default:
			t.Errorf("%s: unexpected data %T", name, m.Data)
		}
		got := ""
		for i, k := range keys {
			if i > 0 {
				got += ","
			}
			got += k
		}
		assert.Equal(t, w.attributes, got, name)
	}
}

// TestMetricsCountRequests drives a create, a warm read, a read of an
// unknown session and an update, and reads exact counts.
func TestMetricsCountRequests(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, nil)

	c := n.create(1) // create:ok, no lookup
	v, ok, err := n.read(c)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, v) // a cache hit
	// A miss: load:not_found.
	_, ok, err = n.read(&http.Cookie{Name: "sid", Value: unknownID})
	require.NoError(t, err)
	require.False(t, ok)
	n.set(c, 2) // a hit, then update:ok

	ms := s.collect(t)
	assert.Equal(t, int64(2), sum(t, ms, otelsession.MetricCacheHits))
	assert.Equal(t, int64(1), sum(t, ms, otelsession.MetricCacheMisses))
	assert.Equal(t, int64(0), sum(t, ms, otelsession.MetricUpdateConflicts))
	assert.Equal(t, int64(0), sum(t, ms, otelsession.MetricUpdateRetries))
	assert.Equal(t, int64(0), sum(t, ms, otelsession.MetricHooksDropped))

	calls := sums(t, ms, otelsession.MetricEngineCalls)
	assert.Len(t, calls, len(session.EngineOps())*len(session.Outcomes()), "every operation and outcome, zeros included")
	want := map[string]int64{
		"op=create,outcome=ok":      1,
		"op=load,outcome=not_found": 1,
		"op=update,outcome=ok":      1,
	}
	assert.Equal(t, want, nonZero(calls))

	durations := histCounts(t, ms, otelsession.MetricEngineDuration)
	assert.Equal(t, map[string]uint64{
		"op=create,outcome=ok":      1,
		"op=load,outcome=not_found": 1,
		"op=update,outcome=ok":      1,
	}, durations, "one duration for each engine call")

	assert.Equal(t, map[string]int64{"direction=sent": 0, "direction=received": 0, "direction=dropped": 0},
		sums(t, ms, otelsession.MetricBusMessages), "no bus")
	assert.Eventually(t, func() bool {
		return sum(t, s.collect(t), otelsession.MetricCacheSessions) == 1
	}, 5*time.Second, time.Millisecond, "one session cached (the unknown one is not)")
}

// TestMetricsEqualStats checks every counter against the manager's own
// Stats, after a workload with evictions.
func TestMetricsEqualStats(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, nil, session.WithCacheLimit(2))
	var cookies []*http.Cookie
	for i := range 20 {
		cookies = append(cookies, n.create(i))
	}
	for _, c := range cookies {
		_, _, err := n.read(c)
		require.NoError(t, err)
	}
	// The cache settles its size and evictions lazily: wait until it is
	// within its limit and its figures stay put.
	require.Eventually(t, func() bool {
		st := n.m.Stats()
		time.Sleep(20 * time.Millisecond)
		return st == n.m.Stats() && st.CacheEvictions > 0 && st.CachedSessions <= 2
	}, 10*time.Second, time.Millisecond)

	st := n.m.Stats()
	ms := s.collect(t)
	require.Equal(t, st, n.m.Stats(), "the manager is at rest")
	assert.Equal(t, int64(st.CacheHits), sum(t, ms, otelsession.MetricCacheHits))
	assert.Equal(t, int64(st.CacheMisses), sum(t, ms, otelsession.MetricCacheMisses))
	assert.Equal(t, int64(st.CacheEvictions), sum(t, ms, otelsession.MetricCacheEvictions))
	assert.Equal(t, int64(st.CachedSessions), sum(t, ms, otelsession.MetricCacheSessions))
	calls := sums(t, ms, otelsession.MetricEngineCalls)
	var total int64
	for _, op := range session.EngineOps() {
		for _, o := range session.Outcomes() {
			got := calls["op="+op.String()+",outcome="+o.String()]
			assert.Equal(t, int64(st.EngineCalls(op, o)), got, "%s %s", op, o)
			total += got
		}
	}
	assert.Equal(t, int64(st.EngineCallsTotal()), total)
	var durations uint64
	for _, c := range histCounts(t, ms, otelsession.MetricEngineDuration) {
		durations += c
	}
	assert.Equal(t, st.EngineCallsTotal(), durations, "the histogram counts every engine call")
	assert.Equal(t, int64(20), calls["op=create,outcome=ok"])
}

// TestMetricsCountConflicts makes another manager change a value while
// an Update is computing: one conflict, one retry, one refused update.
func TestMetricsCountConflicts(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, nil)
	other := newNode(t, n.mem) // same engine, not observed
	c := n.create(1)
	tries := 0
	n.serve(context.Background(), c, func(r *http.Request, sess *session.Session) {
		got, err := session.Update(r.Context(), sess, "n", func(v int, _ bool) (int, error) {
			tries++
			if tries == 1 {
				other.set(c, 10)
			}
			return v + 1, nil
		})
		require.NoError(t, err)
		assert.Equal(t, 11, got)
	})
	require.Equal(t, 2, tries)

	ms := s.collect(t)
	assert.Equal(t, int64(1), sum(t, ms, otelsession.MetricUpdateConflicts))
	assert.Equal(t, int64(1), sum(t, ms, otelsession.MetricUpdateRetries))
	calls := nonZero(sums(t, ms, otelsession.MetricEngineCalls))
	assert.Equal(t, int64(1), calls["op=update,outcome=refused"])
	assert.Equal(t, int64(1), calls["op=update,outcome=ok"])

	for _, sp := range s.spans.Ended() {
		assert.NotEqual(t, "Error", sp.Status().Code.String(), "%s: a refused update is a normal answer", sp.Name())
	}
}

// TestBusLag records the lags the manager reports.
func TestBusLag(t *testing.T) {
	s := newSDK(t)
	tel, err := otelsession.New(s.mp, s.tp)
	require.NoError(t, err)
	tel.BusLag(250 * time.Millisecond)
	tel.BusLag(2 * time.Second)
	m := s.collect(t)[otelsession.MetricBusLag]
	h := m.Data.(metricdata.Histogram[float64])
	require.Len(t, h.DataPoints, 1)
	assert.Equal(t, uint64(2), h.DataPoints[0].Count)
	assert.InDelta(t, 2.25, h.DataPoints[0].Sum, 1e-9)
}

// TestWithAttributes adds the configured attributes to every metric, and
// the engine's name to the engine's metrics.
func TestWithAttributes(t *testing.T) {
	s := newSDK(t)
	n, tel := observed(t, s, nil, []otelsession.Option{
		otelsession.WithEngineName("memory"),
		otelsession.WithAttributes(attrManager("admin")),
	})
	n.create(1)
	tel.BusLag(time.Millisecond)
	ms := s.collect(t)
	assert.Equal(t, map[string]int64{"sessiongen.manager=admin": 0}, sums(t, ms, otelsession.MetricCacheHits))
	assert.Equal(t, int64(1), sums(t, ms, otelsession.MetricEngineCalls)["db.system.name=memory,op=create,outcome=ok,sessiongen.manager=admin"])
	assert.Equal(t, map[string]uint64{"db.system.name=memory,op=create,outcome=ok,sessiongen.manager=admin": 1},
		histCounts(t, ms, otelsession.MetricEngineDuration))
	assert.Equal(t, map[string]uint64{"sessiongen.manager=admin": 1}, histCounts(t, ms, otelsession.MetricBusLag))
	assert.Contains(t, sums(t, ms, otelsession.MetricBusMessages), "direction=sent,sessiongen.manager=admin")
}
