package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
type entry struct {
	mu   sync.Mutex
	id   string // the session ID: the cache key
	key  string // store.Key(id): the engine key
	snap atomic.Pointer[snapshot]
}

// newEntry returns an entry for id holding s.
func newEntry(id string, s *snapshot) *entry {
	e := &entry{id: id, key: store.Key(id)}
	e.snap.Store(s)
	return e
}

// newCache builds the manager's session cache.
func (m *Manager) newCache() (*otter.Cache[string, *entry], error) {
	c, err := otter.New(&otter.Options[string, *entry]{
		MaximumSize:      m.cacheLimit,
		ExpiryCalculator: otter.ExpiryWriting[string, *entry](m.cacheTTL),
		// The cache TTL only bounds staleness, so a clock read once per
		// tick is precise enough, and it spares every cache read a
		// precise clock read. Session expiry does not use this clock.
		Clock:  otter.NewCoarseClock(cacheClockResolution(m.cacheTTL)),
		Logger: cacheLogger{m},
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
func (l loader) Load(ctx context.Context, id string) (*entry, error) {
	m := l.m
	key := store.Key(id)
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, otter.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	fields := rec.Fields
	if fields == nil {
		fields = map[string][]byte{}
	}
	s := &snapshot{
		fields:  fields,
		size:    sizeOf(fields),
		created: rec.Created,
		expires: rec.Expires,
	}
	if !m.live(s, m.now()) {
		return nil, otter.ErrNotFound
	}
	e := &entry{id: id, key: key}
	e.snap.Store(s)
	return e, nil
}

// Reload is not used: the cache has no refresh policy.
func (l loader) Reload(ctx context.Context, id string, _ *entry) (*entry, error) {
	return l.Load(ctx, id)
}

// lookup returns the entry for id if it is live at now, nil when the
// session does not exist or has expired.
func (m *Manager) lookup(ctx context.Context, id string, now time.Time) (*entry, error) {
	e, err := m.cache.Get(ctx, id, m.loader)
	if errors.Is(err, otter.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s := e.snap.Load(); !m.live(s, now) {
		m.forget(e)
		return nil, nil
	}
	return e, nil
}

// forget removes e from the cache if the cache still maps its ID to it.
func (m *Manager) forget(e *entry) {
	m.cache.ComputeIfPresent(e.id, func(old *entry) (*entry, otter.ComputeOp) {
		if old == e {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// written is called after a writer of e changed the engine: if the cache
// now maps e's ID to another entry (e was evicted and the session loaded
// again meanwhile), that entry may predate the change, so it is dropped
// and the next request loads the session afresh.
func (m *Manager) written(e *entry) {
	if cur, ok := m.cache.GetIfPresent(e.id); ok && cur != e {
		m.forget(cur)
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
