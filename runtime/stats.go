package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2/stats"
)

// Stats is a snapshot of a manager's counters since [New], from
// [Manager.Stats]: for users without OpenTelemetry (package otelsession
// exports the same figures as OpenTelemetry instruments). Counting is
// always on and costs a warm read no allocation.
type Stats struct {
	// CacheHits counts lookups the cache answered; CacheMisses those it
	// did not, which loaded the session from the engine (requests that
	// waited for another's load of the same session count as hits).
	CacheHits, CacheMisses uint64
	// CacheEvictions counts sessions the cache dropped to stay within
	// its limit or TTL ([WithCache]).
	CacheEvictions uint64
	// CachedSessions is the number of sessions cached now (an estimate:
	// the cache settles its count lazily).
	CachedSessions int
	// BusSent counts change messages published on the bus; BusReceived
	// the messages of other nodes received; BusDropped the messages this
	// node could not publish (queue full, or the bus failing after the
	// retries). All zero without [WithBus].
	BusSent, BusReceived, BusDropped uint64
	// Conflicts counts compare-and-set tries ([Update], [Pop],
	// [Session.Clear] and the generated updaters) that found the value
	// changed; Retries the tries made again after one.
	Conflicts, Retries uint64
	// HooksDropped counts events dropped because the hooks' queue was
	// full ([WithHooks]).
	HooksDropped uint64

	engine [numEngineOps][numOutcomes]uint64
}

// EngineCalls returns how many calls of operation op ended with outcome
// o.
func (s Stats) EngineCalls(op EngineOp, o Outcome) uint64 {
	if op >= numEngineOps || o >= numOutcomes {
		return 0
	}
	return s.engine[op][o]
}

// EngineCallsTotal returns how many engine calls the manager made, of
// every operation and outcome.
func (s Stats) EngineCallsTotal() uint64 {
	var n uint64
	for _, byOutcome := range s.engine {
		for _, c := range byOutcome {
			n += c
		}
	}
	return n
}

// Stats returns the manager's counters now. It is cheap (no engine call,
// no lock on the request path) and safe to call from any goroutine, for
// example from a metrics callback.
func (m *Manager) Stats() Stats {
	cs := m.cacheStats.Snapshot()
	s := Stats{
		CacheHits:      cs.Hits,
		CacheMisses:    cs.LoadSuccesses + cs.LoadFailures,
		CacheEvictions: cs.Evictions,
		CachedSessions: m.cache.EstimatedSize(),
		BusSent:        m.busSent.Load(),
		BusReceived:    m.busReceived.Load(),
		BusDropped:     m.pubDrops.total.Load() + m.pubFails.total.Load(),
		Conflicts:      m.conflicts.Load(),
		Retries:        m.retries.Load(),
		HooksDropped:   m.hookDrops.total.Load(),
	}
	for op := range s.engine {
		for o := range s.engine[op] {
			s.engine[op][o] = m.engineCounts[op][o].Load()
		}
	}
	return s
}

// Observer sees what the manager's counters cannot tell: how long each
// engine call takes, and how far behind the bus is. Set it with
// [WithObserver]; package otelsession implements it with OpenTelemetry
// (engine latency histograms, spans). Its methods are called on the
// request path and from the bus goroutine: they must be safe for
// concurrent use, and fast.
type Observer interface {
	// EngineCall is called as an engine call begins, with the call's
	// context; the manager passes the context returned to the engine
	// (so a span started here is the parent of the engine's own) and
	// calls end with the call's error (nil on success) as it returns.
	// Neither gets a session ID or engine key.
	EngineCall(ctx context.Context, op EngineOp) (_ context.Context, end func(error))
	// BusLag is called each time the bus proves its subscription live
	// (see [WithMaxStaleness]): every message published more than d ago
	// has been delivered, so d bounds the propagation lag from above.
	// Only buses that prove themselves (bus.Prover: redisbus, pgbus)
	// report it.
	BusLag(d time.Duration)
}

// WithObserver makes the manager report each engine call and each proof
// of the bus's liveness to o (see [Observer]). Default: none; the
// counters of [Manager.Stats] are kept either way.
func WithObserver(o Observer) Option {
	return func(m *Manager) error {
		if o == nil {
			return fmt.Errorf("session: WithObserver: observer is nil")
		}
		m.observer = o
		return nil
	}
}

// counters is the part of the manager that Stats reads besides the
// cache's own statistics and the drop counters.
type counters struct {
	cacheStats   *stats.Counter
	engineCounts engineCounts
	busSent      atomic.Uint64
	busReceived  atomic.Uint64
	conflicts    atomic.Uint64
	retries      atomic.Uint64
}
