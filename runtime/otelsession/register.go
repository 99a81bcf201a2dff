package otelsession

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/metric"

	session "github.com/sessiongen/sessiongen/runtime"
)

// Register makes t report m's counters ([session.Manager.Stats]) through
// its asynchronous instruments: one callback, run when the meter
// provider collects, reads the Stats of every manager registered and
// reports their sums. The request path pays nothing for it.
//
// Call unregister (it is idempotent) when m is closed, or before
// registering it again; its counts then leave the sums. Registering a
// manager that is registered already fails.
func (t *Telemetry) Register(m *session.Manager) (unregister func() error, err error) {
	if m == nil {
		return nil, errors.New("otelsession: Register: manager is nil")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.list()
	if slices.Contains(old, m) {
		return nil, errors.New("otelsession: Register: the manager is registered already")
	}
	if t.reg == nil {
		// The callback reads the managers from an atomic pointer, never
		// under t.mu: the SDK holds its own lock while it runs callbacks
		// and while it registers one.
		reg, err := t.meter.RegisterCallback(t.observe, t.inst.observables()...)
		if err != nil {
			return nil, fmt.Errorf("otelsession: Register: %w", err)
		}
		t.reg = reg
	}
	t.store(append(slices.Clip(old), m))
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() { err = t.unregister(m) })
		return err
	}, nil
}

// unregister removes m, and the callback with the last manager.
func (t *Telemetry) unregister(m *session.Manager) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rest := slices.DeleteFunc(slices.Clone(t.list()), func(x *session.Manager) bool { return x == m })
	t.store(rest)
	if len(rest) > 0 || t.reg == nil {
		return nil
	}
	err := t.reg.Unregister()
	t.reg = nil
	if err != nil {
		return fmt.Errorf("otelsession: unregister: %w", err)
	}
	return nil
}

// list returns the registered managers (not to be modified).
func (t *Telemetry) list() []*session.Manager {
	if p := t.managers.Load(); p != nil {
		return *p
	}
	return nil
}

// store publishes the registered managers.
func (t *Telemetry) store(ms []*session.Manager) {
	t.managers.Store(&ms)
}

// observe is the callback: the sums of the registered managers' Stats.
func (t *Telemetry) observe(_ context.Context, o metric.Observer) error {
	ms := t.list()
	if len(ms) == 0 {
		return nil
	}
	var sum totals
	for _, m := range ms {
		sum.add(m.Stats(), t.attrs.ops, t.attrs.outcomes)
	}
	a, in := &t.attrs, &t.inst
	o.ObserveInt64(in.cacheHits, int64(sum.cacheHits), a.plain...)
	o.ObserveInt64(in.cacheMisses, int64(sum.cacheMisses), a.plain...)
	o.ObserveInt64(in.cacheEvictions, int64(sum.cacheEvictions), a.plain...)
	o.ObserveInt64(in.cacheSessions, sum.cachedSessions, a.plain...)
	o.ObserveInt64(in.busMessages, int64(sum.busSent), a.bus[busSent]...)
	o.ObserveInt64(in.busMessages, int64(sum.busReceived), a.bus[busReceived]...)
	o.ObserveInt64(in.busMessages, int64(sum.busDropped), a.bus[busDropped]...)
	o.ObserveInt64(in.conflicts, int64(sum.conflicts), a.plain...)
	o.ObserveInt64(in.retries, int64(sum.retries), a.plain...)
	o.ObserveInt64(in.hooksDropped, int64(sum.hooksDropped), a.plain...)
	for i := range a.ops {
		for j := range a.outcomes {
			o.ObserveInt64(in.engineCalls, int64(sum.engine[i][j]), a.calls[i][j]...)
		}
	}
	return nil
}

// totals adds up the Stats of several managers.
type totals struct {
	cacheHits, cacheMisses, cacheEvictions uint64
	cachedSessions                         int64
	busSent, busReceived, busDropped       uint64
	conflicts, retries, hooksDropped       uint64
	engine                                 [][]uint64 // [op][outcome]
}

// add adds s, with the engine calls of ops and outcomes.
func (t *totals) add(s session.Stats, ops []session.EngineOp, outcomes []session.Outcome) {
	t.cacheHits += s.CacheHits
	t.cacheMisses += s.CacheMisses
	t.cacheEvictions += s.CacheEvictions
	t.cachedSessions += int64(s.CachedSessions)
	t.busSent += s.BusSent
	t.busReceived += s.BusReceived
	t.busDropped += s.BusDropped
	t.conflicts += s.Conflicts
	t.retries += s.Retries
	t.hooksDropped += s.HooksDropped
	if t.engine == nil {
		t.engine = make([][]uint64, len(ops))
		for i := range t.engine {
			t.engine[i] = make([]uint64, len(outcomes))
		}
	}
	for i, op := range ops {
		for j, oc := range outcomes {
			t.engine[i][j] += s.EngineCalls(op, oc)
		}
	}
}
