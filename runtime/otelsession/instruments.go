package otelsession

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// The instruments' names. Counters are cumulative from the manager's
// start ([session.Manager.Stats]); a Telemetry that observes several
// managers reports their sum.
const (
	// MetricCacheHits counts lookups the cache answered. Observable
	// counter, unit "{hit}".
	MetricCacheHits = "sessiongen.cache.hits"
	// MetricCacheMisses counts lookups the cache could not answer,
	// which loaded the session from the engine. Observable counter,
	// unit "{miss}".
	MetricCacheMisses = "sessiongen.cache.misses"
	// MetricCacheEvictions counts sessions the cache dropped to stay
	// within its limit or TTL. Observable counter, unit "{eviction}".
	MetricCacheEvictions = "sessiongen.cache.evictions"
	// MetricCacheSessions is the number of sessions cached now (an
	// estimate). Observable up-down counter (a count of things, so
	// summing it across processes makes sense), unit "{session}".
	MetricCacheSessions = "sessiongen.cache.sessions"
	// MetricEngineCalls counts the manager's calls to its storage
	// engine, with the attributes "op" ([session.EngineOp.String]),
	// "outcome" ([session.Outcome.String]) and, with [WithEngineName],
	// "db.system.name". Every operation and outcome is reported, zeros
	// included. Observable counter, unit "{call}".
	MetricEngineCalls = "sessiongen.engine.calls"
	// MetricEngineDuration is the duration of each engine call, with
	// the attributes of [MetricEngineCalls]. Histogram, unit "s".
	MetricEngineDuration = "sessiongen.engine.duration"
	// MetricBusMessages counts change messages on the bus, with the
	// attribute "direction": "sent" (published by this manager),
	// "received" (from other managers) or "dropped" (this manager's,
	// not published). Observable counter, unit "{message}".
	MetricBusMessages = "sessiongen.bus.messages"
	// MetricBusLag is the propagation lag the bus proves each time it
	// proves its subscription live (an upper bound; only buses that
	// implement bus.Prover report it). Histogram, unit "s".
	MetricBusLag = "sessiongen.bus.lag"
	// MetricUpdateConflicts counts compare-and-set tries that found the
	// value changed. Observable counter, unit "{conflict}".
	MetricUpdateConflicts = "sessiongen.update.conflicts"
	// MetricUpdateRetries counts the tries made again after a conflict.
	// Observable counter, unit "{retry}".
	MetricUpdateRetries = "sessiongen.update.retries"
	// MetricHooksDropped counts lifecycle events dropped because the
	// hooks' queue was full. Observable counter, unit "{event}".
	MetricHooksDropped = "sessiongen.hooks.dropped"
)

// The attribute keys of the metrics and spans (besides the semantic
// conventions' "db.system.name" and "error.type").
const (
	// AttrOp is the engine operation: "load", "create", "update",
	// "delete", "move", "version" or "owned".
	AttrOp = "op"
	// AttrOutcome is how an engine call ended: "ok", "not_found",
	// "refused" or "error".
	AttrOutcome = "outcome"
	// AttrDirection is a bus message's direction: "sent", "received" or
	// "dropped".
	AttrDirection = "direction"
)

// Histogram bucket boundaries, in seconds. Engine calls range from well
// under a millisecond (memory, Redis on loopback) to seconds (a timeout);
// the OpenTelemetry default boundaries assume milliseconds.
var (
	engineBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	lagBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

// instruments are a Telemetry's instruments.
type instruments struct {
	cacheHits, cacheMisses, cacheEvictions metric.Int64ObservableCounter
	cacheSessions                          metric.Int64ObservableUpDownCounter
	engineCalls                            metric.Int64ObservableCounter
	busMessages                            metric.Int64ObservableCounter
	conflicts, retries, hooksDropped       metric.Int64ObservableCounter
	engineDuration, busLag                 metric.Float64Histogram
}

// create makes every instrument with meter m.
func (in *instruments) create(m metric.Meter) error {
	var errs []error
	keep := func(err error) { errs = append(errs, err) } // errors.Join drops the nils
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		keep(err)
		return c
	}
	in.cacheHits = counter(MetricCacheHits, "{hit}", "Session lookups the cache answered.")
	in.cacheMisses = counter(MetricCacheMisses, "{miss}", "Session lookups that loaded the session from the engine.")
	in.cacheEvictions = counter(MetricCacheEvictions, "{eviction}", "Sessions the cache dropped to stay within its limit or TTL.")
	in.engineCalls = counter(MetricEngineCalls, "{call}", "Calls of the session manager to its storage engine.")
	in.busMessages = counter(MetricBusMessages, "{message}", "Session change messages sent, received or dropped on the bus.")
	in.conflicts = counter(MetricUpdateConflicts, "{conflict}", "Compare-and-set tries that found the value changed.")
	in.retries = counter(MetricUpdateRetries, "{retry}", "Compare-and-set tries made again after a conflict.")
	in.hooksDropped = counter(MetricHooksDropped, "{event}", "Lifecycle events dropped because the hooks' queue was full.")
	var err error
	in.cacheSessions, err = m.Int64ObservableUpDownCounter(MetricCacheSessions,
		metric.WithUnit("{session}"), metric.WithDescription("Sessions in the manager's cache (an estimate)."))
	keep(err)
	in.engineDuration, err = m.Float64Histogram(MetricEngineDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of the session manager's storage engine calls."),
		metric.WithExplicitBucketBoundaries(engineBuckets...))
	keep(err)
	in.busLag, err = m.Float64Histogram(MetricBusLag, metric.WithUnit("s"),
		metric.WithDescription("Upper bound of the session bus's propagation lag, at each proof of liveness."),
		metric.WithExplicitBucketBoundaries(lagBuckets...))
	keep(err)
	return errors.Join(errs...)
}

// observables returns the asynchronous instruments, for the callback's
// registration.
func (in *instruments) observables() []metric.Observable {
	return []metric.Observable{
		in.cacheHits, in.cacheMisses, in.cacheEvictions, in.cacheSessions,
		in.engineCalls, in.busMessages, in.conflicts, in.retries, in.hooksDropped,
	}
}
