package session

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Cache coherence between managers ("many nodes, one truth").
//
// Every cached entry carries checked: a time at which its copy held every
// change the engine had completed. A read serves the cached copy only if
// it is fresh (see fresh): checked is not before the epoch (the last time
// the bus subscription came up; before that, messages may have been
// missed) and, while the time bound applies, the copy is known to hold
// every change completed more than the staleness bound before the
// request began. Otherwise the copy is revalidated (revalidate in
// cache.go): a version check with store.Versioner, or a reload.
//
// The time bound applies when there is no bus and WithMaxStaleness set a
// bound, and while a bus's subscription is down. With the bus up, change
// messages keep the cache current instead: a Changed message about a
// version newer than the cached one, or a Deleted message, marks the
// entry invalid and drops it, so the next read loads the session again.
// A write that fails with its outcome unknown (it may have landed, its
// answer lost) is announced too, as a change to the version it would
// have made (see unknownOutcome), and marks this process's copy stale.
//
// A bus that implements bus.Prover makes that exact even when it stalls
// without an error (a paused server, a silent network path), which its
// health check notices only after a while. Such a bus proves its
// subscription live every proofInterval: a proof at time P says every
// message published before P has been delivered, hence applied. With it
// the bound applies always, and a copy checked before now - bound is
// still fresh while the latest proof is younger than proofTrust (the
// bound less a margin for the publisher's delay): every change completed
// before now - bound had its message published before the proof, and
// that message would have made the copy invalid. When proofs stop, old
// copies stop being trusted proofTrust after the last one, whether or
// not the bus has noticed anything yet.
//
// Messages carry the engine key, the cache is keyed by session ID: the
// manager keeps keys (a keyIndex: engine key -> entry) in step with the
// cache (indexed before an entry enters the cache, removed by the cache's
// deletion listener), so the read path never hashes an ID.
//
// Versions, not clocks, order changes. A record of the newest version
// and of deletions seen per key (marks) covers a load racing a message:
// see loader.Load.

// stamp returns t on the manager's monotonic time line (nanoseconds since
// the manager was made), the unit of entry.checked and of the epoch.
func (m *Manager) stamp(t time.Time) int64 {
	return int64(t.Sub(m.base))
}

// fresh reports whether the cached copy e may be served to a request
// that began at now without asking the engine.
func (m *Manager) fresh(e *entry, now time.Time) bool {
	// The proof is read before the copy's stamp: deliver invalidates a
	// copy before the proof that covers its message is recorded, so a
	// read that sees the proof sees the invalidation too.
	p := m.proof.Load()
	c := e.checked.Load()
	if c < m.epoch.Load() {
		return false
	}
	if !m.bounded.Load() {
		return true
	}
	n := m.stamp(now)
	return c >= n-int64(m.maxStale) || p >= n-int64(proofTrust(m.maxStale))
}

// With a bus that proves its subscription live (bus.Prover), the manager
// asks for a proof every quarter of the staleness bound, and trusts the
// latest one for three quarters: the quarter left is the margin for the
// delay between a change in the engine and its message reaching the bus
// (the publisher normally sends it within milliseconds). Between two
// proofs, half the bound is left for the round trip and for scheduling
// delays before a late proof makes reads revalidate.

// proofInterval returns how often the bus is asked to prove itself live
// under the staleness bound d.
func proofInterval(d time.Duration) time.Duration {
	return max(d/4, time.Millisecond)
}

// proofTrust returns how long a proof of liveness counts under the
// staleness bound d.
func proofTrust(d time.Duration) time.Duration {
	return d - d/4
}

// proved records a proof of liveness from the bus: every message
// published before t has been delivered. t is put on the manager's time
// line by its age, measured after the manager's clock is read, so the
// stamp is never later than t.
func (m *Manager) proved(t time.Time) {
	lag := time.Since(t)
	p := m.stamp(m.now()) - int64(lag)
	if m.observer != nil {
		m.observer.BusLag(lag)
	}
	if p > m.proof.Load() { // one writer: the subscription goroutine
		m.proof.Store(p)
	}
}

// invalidateKey applies news about the session with engine key key to
// this process: a change to version v (deleted false), or its deletion.
// It records the news for loads in flight, then drops the cached copy
// unless it is already at least as new.
func (m *Manager) invalidateKey(key string, deleted bool, v uint64) {
	m.marks.put(key, deleted, v)
	e := m.keys.get(key)
	if e == nil {
		return
	}
	if s := e.snap.Load(); !deleted && !s.gone() && s.version >= v {
		return // an old or repeated message: the copy is as new
	}
	e.checked.Store(invalid)
	if deleted {
		// Requests in flight that hold the entry see it gone too: none
		// of them serves, writes or renews it afterwards.
		e.snap.Store(goneSnapshot)
	}
	m.forget(e)
}

// unknownOutcome handles a write of the session with engine key key (e
// its cached copy, or nil) that failed with err. Unless err proves the
// write never reached the engine ([unsent]), the engine may hold a
// change no cached copy has (version v, had it landed): e is marked stale
// and the other processes are told of a change to v, so every copy reads
// the engine again before its next use. Where the write did not land,
// the others read the session again until the news is forgotten (see
// marks): a cost paid only after a failure.
func (m *Manager) unknownOutcome(ctx context.Context, e *entry, key string, v uint64, err error) {
	if unsent(err) {
		return // the copy is still the engine's: warm reads go on
	}
	if e != nil {
		e.checked.Store(invalid)
	}
	m.publish(ctx, bus.Changed, key, v)
}

// deliver applies a message from the bus. The manager's own messages are
// ignored: its cache already has its changes.
func (m *Manager) deliver(msg bus.Message) {
	if msg.Node == m.node || msg.Key == "" {
		return
	}
	m.busReceived.Add(1)
	switch msg.Kind {
	case bus.Changed:
		m.invalidateKey(msg.Key, false, msg.Version)
	case bus.Deleted:
		m.invalidateKey(msg.Key, true, 0)
	}
}

// busState applies a change of the bus subscription's state. Down: the
// staleness bound applies to every cached session. Up: messages may have
// been missed while it was down, so every session cached before now is
// revalidated before its next use (the epoch moves), and the bound is
// lifted, unless the bus proves itself live, whose proofs let old copies
// through under the bound instead (see fresh).
func (m *Manager) busState(up bool) {
	if up {
		// +1: a copy checked at this very instant may predate the
		// subscription too.
		m.epoch.Store(m.stamp(m.now()) + 1)
		m.bounded.Store(m.prover != nil)
		m.busUp.Store(true)
		m.logger().Info("session: bus subscription up; every session cached before is revalidated before its next use")
		return
	}
	m.bounded.Store(m.maxStale > 0)
	m.busUp.Store(false)
	if m.maxStale > 0 {
		m.logger().Warn("session: bus subscription down; cached sessions older than the staleness bound are revalidated before use",
			slog.Duration("max_staleness", m.maxStale))
	} else {
		m.logger().Warn("session: bus subscription down; without a staleness bound cached sessions are served as they are until it is back")
	}
}

// subscribeRetry is how long the manager waits before calling Subscribe
// again when a Bus returned without being stopped (a Bus normally
// reconnects by itself and returns only when its context ends).
const subscribeRetry = time.Second

// subscribe runs the bus subscription until ctx ends.
func (m *Manager) subscribe(ctx context.Context) {
	for {
		var err error
		if m.prover != nil {
			err = m.prover.SubscribeProved(ctx, proofInterval(m.maxStale), m.deliver, m.busState, m.proved)
		} else {
			err = m.bus.Subscribe(ctx, m.deliver, m.busState)
		}
		if ctx.Err() != nil {
			return
		}
		if m.busUp.Load() {
			m.busState(false)
		}
		m.logger().Error("session: bus subscription ended; subscribing again", slog.Any("err", err),
			slog.Duration("retry_in", subscribeRetry))
		t := time.NewTimer(subscribeRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// marks records, per engine key, the newest version and the deletions
// this process has heard of recently, so that a load racing a message
// does not cache what the message made stale (see loader.Load).
//
// It is bounded: two generations of at most markLimit keys each; the
// current one becomes the previous one every markPeriod or when full,
// and the previous one is dropped. A mark therefore lives between one and
// two periods unless a flood of messages fills generations faster; a load
// that saw two generation changes no longer trusts the absence of a
// mark.
type marks struct {
	mu    sync.RWMutex
	cur   map[string]mark
	prev  map[string]mark
	since time.Time
	gen   atomic.Uint64
}

// mark is what is known about one key.
type mark struct {
	version uint64
	deleted bool
}

const (
	markLimit  = 16384
	markPeriod = 30 * time.Second
)

func newMarks() *marks {
	return &marks{cur: map[string]mark{}, prev: map[string]mark{}, since: time.Now()}
}

// merge combines two marks of one key.
func (a mark) merge(b mark) mark {
	return mark{version: max(a.version, b.version), deleted: a.deleted || b.deleted}
}

// put records a change to version v, or a deletion, of key.
func (ms *marks) put(key string, deleted bool, v uint64) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.cur) >= markLimit || time.Since(ms.since) >= markPeriod {
		ms.prev, ms.cur, ms.since = ms.cur, make(map[string]mark, len(ms.cur)), time.Now()
		ms.gen.Add(1)
	}
	mk := mark{version: v, deleted: deleted}.merge(ms.cur[key]).merge(ms.prev[key])
	ms.cur[key] = mk
}

// get returns what is recorded about key.
func (ms *marks) get(key string) (mark, bool) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	a, ok1 := ms.cur[key]
	b, ok2 := ms.prev[key]
	return a.merge(b), ok1 || ok2
}

// generation counts the generation changes so far.
func (ms *marks) generation() uint64 { return ms.gen.Load() }

// expire handles a cached copy e found past its deadline while serving a
// request: if this call removes it from the cache, the session is marked
// deleted here, announced as deleted on the bus and reported to the
// Expired hook (once per manager that notices).
func (m *Manager) expire(ctx context.Context, e *entry, s *snapshot) {
	if s.gone() || !m.forget(e) {
		return
	}
	m.expiredFound(ctx, e.key(), s)
}

// expiredFound handles a session found past its deadline (cached, or as
// the engine returned it).
func (m *Manager) expiredFound(ctx context.Context, key string, s *snapshot) {
	m.marks.put(key, true, 0)
	m.publish(ctx, bus.Deleted, key, 0)
	m.event(ctx, Event{Kind: EventExpired, Handle: key, Owner: s.owner})
}
