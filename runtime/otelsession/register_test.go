package otelsession_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

func attrManager(name string) attribute.KeyValue { return attribute.String("sessiongen.manager", name) }

// TestBusMessages runs two managers on one engine and one bus, each
// with its own Telemetry: the Set of one is sent by it and received by
// the other (a create announces nothing).
func TestBusMessages(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	l := newWatchedBus(bus.NewLocal())
	sa, sb := newSDK(t), newSDK(t)
	a, _ := observed(t, sa, mem, nil, session.WithBus(l))
	b, _ := observed(t, sb, mem, nil, session.WithBus(l))
	l.wait(t, 2)

	c := a.create(1)
	a.set(c, 2)
	want := map[string]int64{"direction=sent": 1, "direction=received": 0, "direction=dropped": 0}
	assert.Eventually(t, func() bool {
		return assert.ObjectsAreEqual(want, sums(t, sa.collect(t), otelsession.MetricBusMessages))
	}, 10*time.Second, time.Millisecond)
	assert.Eventually(t, func() bool {
		got := sums(t, sb.collect(t), otelsession.MetricBusMessages)
		return assert.ObjectsAreEqual(map[string]int64{"direction=sent": 0, "direction=received": 1, "direction=dropped": 0}, got)
	}, 10*time.Second, time.Millisecond)
	v, _, err := b.read(c)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

// TestRegisterSums registers two managers with one Telemetry: it reports
// their sums, and a manager unregistered leaves them.
func TestRegisterSums(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	l := newWatchedBus(bus.NewLocal())
	s := newSDK(t)
	tel, err := otelsession.New(s.mp, s.tp)
	require.NoError(t, err)
	a := newNode(t, mem, session.WithBus(l), session.WithObserver(tel))
	b := newNode(t, mem, session.WithBus(l), session.WithObserver(tel))
	l.wait(t, 2)
	unregA, err := tel.Register(a.m)
	require.NoError(t, err)
	unregB, err := tel.Register(b.m)
	require.NoError(t, err)
	_, err = tel.Register(a.m)
	assert.Error(t, err, "registered already")
	_, err = tel.Register(nil)
	assert.Error(t, err)

	c := a.create(1)
	a.set(c, 2)
	assert.Eventually(t, func() bool {
		got := sums(t, s.collect(t), otelsession.MetricBusMessages)
		return got["direction=sent"] == 1 && got["direction=received"] == 1
	}, 10*time.Second, time.Millisecond)
	_, _, err = b.read(c) // b loads the session: a miss
	require.NoError(t, err)
	ms := s.collect(t)
	assert.Equal(t, int64(1), sum(t, ms, otelsession.MetricCacheMisses))
	assert.Equal(t, map[string]int64{"op=create,outcome=ok": 1, "op=update,outcome=ok": 1, "op=load,outcome=ok": 1},
		nonZero(sums(t, ms, otelsession.MetricEngineCalls)))

	require.NoError(t, unregB())
	require.NoError(t, unregB(), "idempotent")
	ms = s.collect(t)
	assert.Equal(t, int64(0), sum(t, ms, otelsession.MetricCacheMisses), "b's miss left with b")
	assert.Equal(t, int64(1), sums(t, ms, otelsession.MetricBusMessages)["direction=sent"])

	require.NoError(t, unregA())
	ms = s.collect(t)
	_, ok := ms[otelsession.MetricCacheHits]
	assert.False(t, ok, "no manager, no observation")
	_, err = tel.Register(a.m)
	require.NoError(t, err, "registered again after unregister")
	assert.Equal(t, int64(1), sums(t, s.collect(t), otelsession.MetricEngineCalls)["op=create,outcome=ok"])
}

// TestNilProvidersAreGlobal uses the global providers for nil ones.
func TestNilProvidersAreGlobal(t *testing.T) {
	s := newSDK(t)
	oldM, oldT := otel.GetMeterProvider(), otel.GetTracerProvider()
	otel.SetMeterProvider(s.mp)
	otel.SetTracerProvider(s.tp)
	t.Cleanup(func() {
		otel.SetMeterProvider(oldM)
		otel.SetTracerProvider(oldT)
	})
	tel, err := otelsession.New(nil, nil)
	require.NoError(t, err)
	n := newNode(t, nil, session.WithObserver(tel))
	unregister, err := tel.Register(n.m)
	require.NoError(t, err)
	defer func() { require.NoError(t, unregister()) }()
	n.create(1)
	assert.Equal(t, int64(1), sums(t, s.collect(t), otelsession.MetricEngineCalls)["op=create,outcome=ok"])
	require.Len(t, s.spans.Ended(), 1)
	assert.Equal(t, "sessiongen.engine create", s.spans.Ended()[0].Name())
}

// TestUnknownOperation records an operation this package does not know
// as "unknown".
func TestUnknownOperation(t *testing.T) {
	s := newSDK(t)
	tel, err := otelsession.New(s.mp, s.tp)
	require.NoError(t, err)
	_, end := tel.EngineCall(context.Background(), session.EngineOp(200))
	end(nil)
	assert.Equal(t, map[string]uint64{"op=unknown,outcome=ok": 1}, histCounts(t, s.collect(t), otelsession.MetricEngineDuration))
	require.Len(t, s.spans.Ended(), 1)
	assert.Equal(t, "sessiongen.engine unknown", s.spans.Ended()[0].Name())
}

// TestNoSession is a request that never touches its session: no engine
// call, no span, no lookup.
func TestNoSession(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, nil)
	n.serve(context.Background(), &http.Cookie{Name: "sid", Value: unknownID}, func(*http.Request, *session.Session) {})
	ms := s.collect(t)
	assert.Empty(t, nonZero(sums(t, ms, otelsession.MetricEngineCalls)))
	assert.Equal(t, int64(0), sum(t, ms, otelsession.MetricCacheMisses))
	assert.Empty(t, s.spans.Ended())
}
