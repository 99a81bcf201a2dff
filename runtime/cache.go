package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// entry is a session in the manager's cache. Readers load snap without
// locking; writers of this process hold mu while they build the next
// snapshot, send the change to the engine and swap the pointer, so two
// writers of one session never lose each other's change.
//
// It is kept small (48 bytes): the cache holds one per session (see
// BenchmarkCacheFootprint). The engine key is not kept but derived from
// the ID when needed (entry.key).
type entry struct {
	mu   sync.Mutex
	id   string // the session ID: the cache key
	snap atomic.Pointer[snapshot]
	// checked is when the cached copy was last known to hold every
	// change the engine had completed by then (see Manager.stamp), or
	// invalid once a change message or a racing write showed it stale.
	// See coherence.go.
	checked atomic.Int64
	// seq orders the entry's making among the manager's loads (see
	// Manager.loads): a lookup that read a smaller or equal count
	// before it began knows the entry was read after it began.
	seq uint64
}

// key returns the session's engine key, store.Key(e.id). It costs a
// SHA-256 sum: a write computes it once.
func (e *entry) key() string {
	var k [keyLen]byte
	engineKey(&k, e.id)
	return string(k[:])
}

// invalid is the checked value of an entry known to be stale: older
// than every epoch, so the next read revalidates it.
const invalid = math.MinInt64

// newEntry returns an entry for id holding s, written by this process
// at stamp.
func (m *Manager) newEntry(id string, s *snapshot, stamp int64) *entry {
	e := &entry{id: id, seq: m.loads.Add(1)}
	e.snap.Store(s)
	e.checked.Store(stamp)
	return e
}

// newCache builds the manager's session cache.
func (m *Manager) newCache() (*otter.Cache[string, *entry], error) {
	m.clock = otter.NewCoarseClock(cacheClockResolution(m.cacheTTL))
	c, err := otter.New(&otter.Options[string, *entry]{
		MaximumSize:      m.cacheLimit,
		ExpiryCalculator: otter.ExpiryWriting[string, *entry](m.cacheTTL),
		// The cache TTL only bounds staleness, so a clock read once per
		// tick is precise enough, and it spares every cache read a
		// precise clock read. Session expiry does not use this clock.
		Clock:         m.clock,
		Logger:        cacheLogger{m},
		StatsRecorder: m.cacheStats,
		// Keep the engine-key index in step with the cache. A
		// replacement needs nothing: whoever put the new entry in the
		// cache indexed it first.
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *entry]) {
			if ev.Cause != otter.CauseReplacement && ev.Value != nil {
				m.keys.remove(ev.Value.key(), ev.Value)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("session: cache: %w", err)
	}
	return c, nil
}

// cacheClockResolution returns the tick of the cache's coarse clock: a
// hundredth of the TTL, between 10 ms and 1 s.
func cacheClockResolution(ttl time.Duration) time.Duration {
	return min(max(ttl/100, 10*time.Millisecond), time.Second)
}

// loader loads sessions into the cache on a miss. The cache runs one load
// per ID at a time; concurrent requests for the same ID wait for it.
type loader struct{ m *Manager }

// Load reads the session from the engine. A missing or expired session
// is otter.ErrNotFound, so nothing is cached.
//
// A load can race a change message: the engine read may return version
// 2 while a message about version 3 (or a deletion) is being applied.
// The message handler records what it saw before it looks for a cached
// entry; the loader indexes its entry before it checks those records.
// So either the handler finds the new entry and invalidates it, or the
// loader finds the record and refuses to trust (or to return) what it
// read. See coherence.go.
func (l loader) Load(ctx context.Context, id string) (*entry, error) {
	m := l.m
	key := store.Key(id)
	if mk, ok := m.marks.get(key); ok && mk.deleted {
		return nil, otter.ErrNotFound // deleted: no engine round trip
	}
	start, seq := m.stamp(m.now()), m.loads.Add(1)
	gen := m.marks.generation()
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, otter.ErrNotFound
	}
	if errors.Is(err, store.ErrCorrupt) {
		m.dropCorrupt(ctx, key, err)
		return nil, otter.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	s := snapshotOf(m.validFields(ctx, key, rec))
	if !m.live(s, m.now()) {
		m.expiredFound(ctx, key, s)
		return nil, otter.ErrNotFound
	}
	e := &entry{id: id, seq: seq}
	e.snap.Store(s)
	e.checked.Store(start)
	m.keys.put(key, e)
	mk, ok := m.marks.get(key)
	switch {
	case ok && mk.deleted:
		m.keys.remove(key, e)
		return nil, otter.ErrNotFound
	case ok && mk.version > rec.Version, m.marks.generation()-gen >= 2:
		// A newer version was announced while this load ran (or the
		// records that could say so may have been dropped meanwhile):
		// serve what was read to the requests waiting for it, but
		// revalidate before the next one.
		e.checked.Store(invalid)
	}
	return e, nil
}

// Reload is not used: the cache has no refresh policy.
func (l loader) Reload(ctx context.Context, id string, _ *entry) (*entry, error) {
	return l.Load(ctx, id)
}

// get returns the cached entry for id, loading it on a miss; nil when the
// session does not exist.
func (m *Manager) get(ctx context.Context, id string) (*entry, error) {
	if e, ok := m.cache.GetIfPresent(id); ok {
		return e, nil
	}
	// A miss: the cache keeps the ID it is given, and id may be a slice
	// of a larger string (the request's Cookie header), which the cache
	// must not hold on to.
	e, err := m.cache.Get(ctx, strings.Clone(id), m.loader)
	if errors.Is(err, otter.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// lookup returns the entry for id if it is live at now, nil when the
// session does not exist or has expired. A cached copy that may be stale
// (see fresh) is revalidated first.
func (m *Manager) lookup(ctx context.Context, id string, now time.Time) (*entry, error) {
	began := m.loads.Load()
	e, err := m.get(ctx, id)
	if e == nil || err != nil {
		return nil, err
	}
	// A copy read from the engine after the lookup began (by this
	// lookup's own load, or one it joined) is as fresh as any.
	if !m.fresh(e, now) && e.seq <= began {
		if e, err = m.revalidate(ctx, id, e, now, began); e == nil || err != nil {
			return nil, err
		}
	}
	if s := e.snap.Load(); !m.live(s, now) {
		m.expire(ctx, e, s)
		return nil, nil
	}
	return e, nil
}

// maxRevalidations bounds the reloads of one lookup. A reload normally
// settles it at once; only a session that changes on every attempt
// needs another.
const maxRevalidations = 4

// errUnsettled reports a session that kept changing while a lookup tried
// to revalidate it.
var errUnsettled = errors.New("revalidate: the session kept changing")

// revalidate makes sure the cached copy e of session id is current
// enough to serve a request that began at now (when the load count was
// began): with the engine's cheap version check when it has one (same
// version: the copy is current), else, or when the version differs, by
// loading it again. It returns the entry to serve, nil when the session
// no longer exists.
func (m *Manager) revalidate(ctx context.Context, id string, e *entry, now time.Time, began uint64) (*entry, error) {
	if c := e.checked.Load(); c != invalid && m.versioner != nil {
		start := m.stamp(m.now())
		key := e.key()
		v, err := m.versioner.Version(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			m.forget(e)
			return nil, nil
		case errors.Is(err, store.ErrCorrupt):
			m.forget(e)
			m.dropCorrupt(ctx, key, err)
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("revalidate: %w", err)
		case v == e.snap.Load().version && e.checked.CompareAndSwap(c, start):
			return e, nil
		}
	}
	for range maxRevalidations {
		m.forget(e)
		var err error
		if e, err = m.get(ctx, id); e == nil || err != nil {
			return nil, err
		}
		if e.seq > began || m.fresh(e, now) {
			return e, nil
		}
	}
	return nil, errUnsettled
}

// forget removes e from the cache if the cache still maps its ID to it,
// and reports whether it did.
func (m *Manager) forget(e *entry) bool {
	removed := false
	m.cache.ComputeIfPresent(e.id, func(old *entry) (*entry, otter.ComputeOp) {
		if old == e {
			removed = true
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
	return removed
}

// written is called after a writer of e, whose engine key is key,
// changed the engine to version v. Another copy of the session this
// process loaded meanwhile (e was evicted or dropped, and a request
// loaded the session again) may predate the change: it is dropped, and a
// load still in flight does not trust what it read (see loader.Load).
func (m *Manager) written(e *entry, key string, v uint64) {
	m.marks.put(key, false, v)
	if o := m.keys.other(key, e); o != nil && o.snap.Load().version < v {
		o.checked.Store(invalid)
		m.forget(o)
	}
}

// cacheLogger sends the cache's own (rare) error reports to the manager's
// logger. The cache never passes keys to it.
type cacheLogger struct{ m *Manager }

func (l cacheLogger) Warn(ctx context.Context, msg string, err error) {
	l.m.logger().WarnContext(ctx, "session: cache: "+msg, slog.Any("err", err))
}

func (l cacheLogger) Error(ctx context.Context, msg string, err error) {
	l.m.logger().ErrorContext(ctx, "session: cache: "+msg, slog.Any("err", err))
}
