package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/maypok86/otter/v2/stats"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/identity"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Manager owns the sessions of an application: it holds the storage
// engine, the identities and the in-process cache, and its [Manager.Handler]
// gives every request its [Session]. A Manager is safe for concurrent use;
// create one per application with [New].
type Manager struct {
	store store.Store
	// undecodable holds the keys reported by ReportUndecodable.
	undecodable undecodableKeys
	ids         []identity.Identity
	maxSize     int
	provenSize  int    // the largest worst case of a generated type (WithProvenSize)
	provenType  string // that type's name
	cacheLimit  int
	cacheTTL    time.Duration
	idle        time.Duration
	lifetime    time.Duration
	mode        FlushMode
	onError     func(http.ResponseWriter, *http.Request, error)
	report      func(context.Context, error)
	log         *slog.Logger

	cache  *otter.Cache[string, *entry]
	loader otter.Loader[string, *entry]
	// clock is the cache's coarse clock, whose goroutine Close stops
	// (set by newCache; nil: none to stop).
	clock *otter.CoarseClock
	// ownStore is the engine New made itself (memstore), which Close
	// closes; nil when the caller passed one.
	ownStore *memstore.Store
	// now is the clock; tests replace it.
	now func() time.Time

	// Many nodes (coherence.go, publish.go, owner.go, hooks.go).
	node      string
	bus       bus.Bus
	prover    bus.Prover // bus, when it proves itself live and a bound applies
	maxStale  time.Duration
	staleSet  bool
	ownerKey  string
	hooks     Hooks
	versioner store.Versioner    // nil when the engine has none
	owners    store.OwnerIndex   // nil when the engine has none
	keys      keyIndex           // engine key -> *entry, for every cached entry
	marks     *marks             // recent news per engine key
	base      time.Time          // origin of stamp
	epoch     atomic.Int64       // copies checked before it are revalidated
	loads     atomic.Uint64      // entries made so far (loads and creations)
	bounded   atomic.Bool        // the staleness bound applies now
	proof     atomic.Int64       // stamp of the bus's latest proof of liveness
	busUp     atomic.Bool        // the bus subscription is up
	pubq      chan bus.Message   // nil without a bus
	hookq     chan Event         // nil without hooks
	pubCap    int                // capacity of pubq (tests lower it)
	hookCap   int                // capacity of hookq (tests lower it)
	done      chan struct{}      // closed by Close
	cancel    context.CancelFunc // ends the subscription
	wg        sync.WaitGroup
	closeOnce sync.Once
	counters           // what Stats reports (stats.go)
	observer  Observer // nil without WithObserver
	pubDrops  dropCounter
	pubFails  dropCounter
	hookDrops dropCounter

	// Compare-and-set (update.go).
	seed    maphash.Seed
	updates [updateLocks]sync.Mutex
}

// New returns a Manager configured by opts. Without options it uses an
// in-process memory engine, one cookie identity named "sid", a 1024-byte
// size limit, a cache of 100,000 sessions kept for an hour, a 24-hour idle
// timeout, a 7-day lifetime and [Immediate] flushing, with no bus, no
// staleness bound, no owner key and no hooks. It returns an error when an
// option is invalid.
//
// New starts goroutines: the cache's clock and clean-up, the default
// memory engine's clean-up, and with a bus ([WithBus]) or hooks
// ([WithHooks]) the subscription, publisher and hook worker.
// [Manager.Close] stops them all.
func New(opts ...Option) (*Manager, error) {
	m := &Manager{
		maxSize:    DefaultMaxSize,
		cacheLimit: DefaultCacheLimit,
		cacheTTL:   DefaultCacheTTL,
		idle:       DefaultIdleTimeout,
		lifetime:   DefaultLifetime,
		mode:       Immediate,
		onError:    defaultErrorHandler,
		now:        time.Now,
		pubCap:     DefaultPublishQueue,
		hookCap:    DefaultHookQueue,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if m.maxSize < m.provenSize {
		return nil, fmt.Errorf("session: the size limit %d (WithMaxSize) is below the %d bytes sessiongen proved a %s can reach: raise the limit to at least %d, or tighten the type's bounds",
			m.maxSize, m.provenSize, m.provenType, m.provenSize)
	}
	if m.store == nil {
		m.ownStore = memstore.New()
		m.store = m.ownStore
	}
	if len(m.ids) == 0 {
		m.ids = []identity.Identity{&identity.Cookie{}}
	}
	if m.node == "" {
		m.node = randomNode()
	}
	if m.bus != nil && !m.staleSet {
		m.maxStale = DefaultMaxStalenessWithBus
	}
	if p, ok := m.bus.(bus.Prover); ok && m.maxStale > 0 {
		m.prover = p
	}
	mt := &metered{st: m.store, obs: m.observer, counts: &m.engineCounts}
	mt.ver, _ = m.store.(store.Versioner)
	mt.owners, _ = m.store.(store.OwnerIndex)
	m.store = mt
	if mt.ver != nil {
		m.versioner = mt
	}
	if mt.owners != nil {
		m.owners = mt
	}
	m.cacheStats = stats.NewCounter()
	m.marks = newMarks()
	m.keys.init()
	m.seed = maphash.MakeSeed()
	m.base = m.now()
	m.epoch.Store(math.MinInt64 + 1)
	m.proof.Store(math.MinInt64)
	// Without a bus the bound, if any, applies always; with one, until
	// the subscription is up.
	m.bounded.Store(m.maxStale > 0)
	m.done = make(chan struct{})
	c, err := m.newCache()
	if err != nil {
		m.closeOwned()
		return nil, err
	}
	m.cache = c
	m.loader = loader{m}
	m.start()
	return m, nil
}

// start launches the goroutines the options need.
func (m *Manager) start() {
	if m.hooks.any() {
		m.hookq = make(chan Event, m.hookCap)
		m.wg.Add(1)
		go m.runHooks()
	}
	if m.bus != nil {
		m.pubq = make(chan bus.Message, m.pubCap)
		m.wg.Add(2)
		go m.runPublisher()
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		go func() {
			defer m.wg.Done()
			m.subscribe(ctx)
		}()
	}
}

// Close stops what the manager runs in the background: it ends the bus
// subscription, sends the change messages still queued (for at most two
// seconds), runs the lifecycle hooks still queued, and waits for those
// goroutines to end; it also stops the cache's background goroutines and
// closes the memory engine New made when no engine was given (its data
// stays usable). It closes neither an engine passed with [WithStore] nor
// the bus, which belong to the caller. Once Close has returned, the
// manager has no goroutine left. Sessions still work after Close (the
// cache then expires entries on use only), but their changes are no
// longer announced on the bus (each dropped message is logged) and no
// hooks run. Close is safe to call more than once; it returns nil.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		if m.cancel != nil {
			m.cancel()
		}
		close(m.done)
		m.wg.Wait()
		m.cache.StopAllGoroutines()
		m.closeOwned()
	})
	return nil
}

// closeOwned stops what the manager made for itself: the cache's clock
// and the default engine.
func (m *Manager) closeOwned() {
	if m.clock != nil {
		m.clock.Stop()
	}
	if m.ownStore != nil {
		_ = m.ownStore.Close() // never fails
	}
}

// Node returns the manager's node ID (see [WithNode]).
func (m *Manager) Node() string { return m.node }

// randomNode returns a random node ID: 16 base64url characters.
func randomNode() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// logger returns the manager's logger.
func (m *Manager) logger() *slog.Logger {
	if m.log != nil {
		return m.log
	}
	return slog.Default()
}

// reportError logs err (one line, never a session ID) and hands it to the
// error reporter.
func (m *Manager) reportError(ctx context.Context, err error) {
	m.logger().ErrorContext(ctx, "session: error", slog.Any("err", err))
	if m.report != nil {
		m.report(ctx, err)
	}
}
