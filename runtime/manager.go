package session

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Manager owns the sessions of an application: it holds the storage
// engine, the identities and the in-process cache, and its [Manager.Handler]
// gives every request its [Session]. A Manager is safe for concurrent use;
// create one per application with [New].
type Manager struct {
	store      store.Store
	ids        []identity.Identity
	maxSize    int
	cacheLimit int
	cacheTTL   time.Duration
	idle       time.Duration
	lifetime   time.Duration
	mode       FlushMode
	onError    func(http.ResponseWriter, *http.Request, error)
	report     func(context.Context, error)
	log        *slog.Logger

	cache  *otter.Cache[string, *entry]
	loader otter.Loader[string, *entry]
	// now is the clock; tests replace it.
	now func() time.Time
}

// New returns a Manager configured by opts. Without options it uses an
// in-process memory engine, one cookie identity named "sid", a 1024-byte
// size limit, a cache of 100,000 sessions kept for an hour, a 24-hour idle
// timeout, a 7-day lifetime and [Immediate] flushing. It returns an error
// when an option is invalid.
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
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if m.store == nil {
		m.store = memstore.New()
	}
	if len(m.ids) == 0 {
		m.ids = []identity.Identity{&identity.Cookie{}}
	}
	c, err := m.newCache()
	if err != nil {
		return nil, err
	}
	m.cache = c
	m.loader = loader{m}
	return m, nil
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
