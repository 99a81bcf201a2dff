// Package otelsession exports a session manager's metrics and traces
// with OpenTelemetry. It is a module of its own, so a program that does
// not use OpenTelemetry does not build it in.
//
// A [Telemetry] does two things, both opt-in:
//
//   - As a [session.Observer] (pass it with [session.WithObserver]) it
//     records what only the request path sees: the duration of every
//     engine call (a histogram) and a client span around it, and the
//     bus's propagation lag. A request served from the cache makes no
//     engine call, so it records nothing.
//   - [Telemetry.Register] reports a manager's counters ([session.Stats]:
//     cache hits and misses, engine calls by operation and outcome, bus
//     messages, conflicts) through asynchronous instruments read in one
//     callback at collection time: the request path pays nothing for
//     them.
//
// The manager must exist before it can be registered, so wiring takes
// two steps:
//
//	tel, err := otelsession.New(nil, nil, otelsession.WithEngineName("redis"))
//	...
//	m, err := session.New(session.WithStore(st), session.WithObserver(tel))
//	...
//	unregister, err := tel.Register(m)
//	defer unregister()
//
// Nothing recorded carries a session ID or an engine key: attributes are
// the operation, the outcome, the engine's name and the attributes of
// [WithAttributes]. An engine error is described by its type
// ("error.type"), never by its message, which may name the key.
//
// The instruments (all under "sessiongen."; see the constants for units
// and attributes): [MetricCacheHits], [MetricCacheMisses],
// [MetricCacheEvictions], [MetricCacheSessions], [MetricEngineCalls],
// [MetricEngineDuration], [MetricBusMessages], [MetricBusLag],
// [MetricUpdateConflicts], [MetricUpdateRetries], [MetricHooksDropped].
package otelsession

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	session "github.com/sessiongen/sessiongen/runtime"
)

// ScopeName is the instrumentation scope of the meter and the tracer a
// [Telemetry] uses: this package's import path.
const ScopeName = "github.com/sessiongen/sessiongen/runtime/otelsession"

// Telemetry exports the metrics and traces of session managers with
// OpenTelemetry. It implements [session.Observer]; see the package
// documentation for the wiring. Every manager registered with, or
// observed by, one Telemetry adds to the same series: for separate
// series, use one Telemetry per manager with different [WithAttributes].
// It is safe for concurrent use.
type Telemetry struct {
	tracer trace.Tracer
	meter  metric.Meter
	inst   instruments
	attrs  attrTables

	mu       sync.Mutex                         // serialises Register and unregister
	managers atomic.Pointer[[]*session.Manager] // read by the callback without mu
	reg      metric.Registration                // the callback; nil while no manager is registered
}

var _ session.Observer = (*Telemetry)(nil)

// New returns a Telemetry recording with the meter provider mp and the
// tracer provider tp. A nil provider means the global one
// (otel.GetMeterProvider, otel.GetTracerProvider), read now: set the
// global providers first. It fails only when an instrument cannot be
// created.
func New(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) (*Telemetry, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Telemetry{
		tracer: tp.Tracer(ScopeName),
		meter:  mp.Meter(ScopeName),
		attrs:  newAttrTables(c),
	}
	if err := t.inst.create(t.meter); err != nil {
		return nil, fmt.Errorf("otelsession: %w", err)
	}
	return t, nil
}
