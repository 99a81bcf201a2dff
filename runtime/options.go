package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Defaults used by [New] when an option is not given.
const (
	// DefaultMaxSize is the default limit of a session's encoded size in
	// bytes (keys plus msgpack values), as the seed project advised.
	DefaultMaxSize = 1024
	// DefaultCacheLimit is the default number of sessions the manager
	// keeps in its in-process cache.
	DefaultCacheLimit = 100_000
	// DefaultCacheTTL is how long by default a session stays in the
	// in-process cache after it was loaded, before the next request
	// loads it from the engine again (the seed's cacheMaxAge of 3600 s).
	DefaultCacheTTL = time.Hour
	// DefaultIdleTimeout is the default idle timeout: a session not used
	// for this long expires.
	DefaultIdleTimeout = 24 * time.Hour
	// DefaultLifetime is the default absolute lifetime: a session expires
	// this long after it was created, however active it is.
	DefaultLifetime = 7 * 24 * time.Hour
	// DefaultMaxStalenessWithBus is the staleness bound of a manager with
	// a bus when [WithMaxStaleness] is not given (see there for what it
	// guarantees).
	DefaultMaxStalenessWithBus = time.Second
)

// FlushMode says when a request's changes reach the storage engine.
type FlushMode int

const (
	// Immediate sends each change to the engine before the call that
	// made it returns: Set, Remove, Renew and Destroy return after the
	// engine has the change (the seed's semantics). The default.
	Immediate FlushMode = iota
	// OnResponse collects a request's Set and Remove calls (visible to the
	// request's own reads at once) and sends them in one engine call just
	// before the response headers go out. If that call fails, the error
	// handler answers instead of the handler. Renew and Destroy still
	// reach the engine before they return, and changes made after the
	// headers went out are sent immediately.
	OnResponse
)

// String returns the mode's name.
func (f FlushMode) String() string {
	switch f {
	case Immediate:
		return "Immediate"
	case OnResponse:
		return "OnResponse"
	}
	return fmt.Sprintf("FlushMode(%d)", int(f))
}

// Option configures a [Manager]. Options are applied in order by [New];
// an invalid value makes New return an error.
type Option func(*Manager) error

// WithStore sets the storage engine. Default: a new in-process memory
// engine (memstore.New()), which does not survive a restart and is not
// shared between processes.
func WithStore(s store.Store) Option {
	return func(m *Manager) error {
		if s == nil {
			return fmt.Errorf("session: WithStore: store is nil")
		}
		m.store = s
		return nil
	}
}

// WithIdentities sets the identities that carry the session ID between
// client and server. For each request the first one whose Match reports
// true is used (see [identity.Select]); put the most specific first. A
// request no identity serves has no session: its session methods return
// [ErrNoSession]. Identities with a Validate() error method are
// validated. Default: one cookie named "sid" with safe attributes
// (&identity.Cookie{}: Path=/, HttpOnly, SameSite=Lax, Secure over TLS).
func WithIdentities(ids ...identity.Identity) Option {
	return func(m *Manager) error {
		if len(ids) == 0 {
			return fmt.Errorf("session: WithIdentities: no identity given")
		}
		for i, id := range ids {
			if id == nil {
				return fmt.Errorf("session: WithIdentities: identity %d is nil", i)
			}
			if v, ok := id.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					return fmt.Errorf("session: WithIdentities: identity %d: %w", i, err)
				}
			}
		}
		m.ids = append([]identity.Identity(nil), ids...)
		return nil
	}
}

// WithMaxSize sets the limit, in bytes, of a session's encoded size: the
// sum over its fields of len(key) plus the length of the msgpack-encoded
// value. A change over the limit fails with [ErrTooLarge] and changes
// nothing. Default [DefaultMaxSize] (1024). n must be at least 1.
func WithMaxSize(n int) Option {
	return func(m *Manager) error {
		if n < 1 {
			return fmt.Errorf("session: WithMaxSize(%d): the limit must be at least 1 byte", n)
		}
		m.maxSize = n
		return nil
	}
}

// WithProvenSize records that sessions of the generated type named
// typeName can reach worst bytes (the worst case sessiongen proved when
// it generated the type's code). [New] then refuses a limit
// ([WithMaxSize]) below worst, with an error naming both numbers, since
// some values the type's setters accept could not be stored. The
// generated Options function of the type passes it, with
// WithMaxSize(budget) for the generator's budget; later options may
// raise the limit but not lower it below the proof.
func WithProvenSize(typeName string, worst int) Option {
	return func(m *Manager) error {
		if worst < 0 {
			return fmt.Errorf("session: WithProvenSize(%q, %d): negative size", typeName, worst)
		}
		if worst > m.provenSize {
			m.provenSize, m.provenType = worst, typeName
		}
		return nil
	}
}

// WithCacheLimit sets how many sessions the in-process cache holds at
// most; less recently and less frequently used sessions are evicted first
// and loaded from the engine again when needed. Default
// [DefaultCacheLimit] (100,000). n must be at least 1.
//
// A cached session costs about 320 bytes of heap besides its encoded
// size (keys plus values, and 3 bytes per field): about 520 bytes for a
// session of 200 encoded bytes over five fields, so a full default cache
// of such sessions takes about 50 MiB (measured by
// BenchmarkCacheFootprint in the package's tests: 100,000 sessions
// loaded from the engine by requests, heap after collection).
func WithCacheLimit(n int) Option {
	return func(m *Manager) error {
		if n < 1 {
			return fmt.Errorf("session: WithCacheLimit(%d): the limit must be at least 1", n)
		}
		m.cacheLimit = n
		return nil
	}
}

// WithCacheTTL sets how long a session stays in the in-process cache
// after it was loaded from the engine (or created). Without a bus and
// without a staleness bound it bounds how long this process may serve a
// session without seeing changes that another process made to it (see
// [WithBus] and [WithMaxStaleness] for tighter bounds). Default
// [DefaultCacheTTL] (1 hour). d must be positive.
func WithCacheTTL(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return fmt.Errorf("session: WithCacheTTL(%v): the TTL must be positive", d)
		}
		m.cacheTTL = d
		return nil
	}
}

// WithIdleTimeout sets the idle timeout: a session that no request uses
// for this long expires. Use extends the session, but to save engine
// writes the extension is sent to the engine only once at least a quarter
// of the timeout has passed since the last one: a session therefore
// survives at least 3/4 of the timeout of inactivity, and at most the
// whole timeout. Default [DefaultIdleTimeout] (24 hours). d must be
// positive.
func WithIdleTimeout(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return fmt.Errorf("session: WithIdleTimeout(%v): the timeout must be positive", d)
		}
		m.idle = d
		return nil
	}
}

// WithLifetime sets the absolute lifetime: a session expires this long
// after it was created, however active it is ([Session.Renew] keeps the
// creation time). Default [DefaultLifetime] (7 days). d must be positive.
func WithLifetime(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return fmt.Errorf("session: WithLifetime(%v): the lifetime must be positive", d)
		}
		m.lifetime = d
		return nil
	}
}

// WithFlushMode sets when changes reach the engine: [Immediate] (the
// default) or [OnResponse].
func WithFlushMode(f FlushMode) Option {
	return func(m *Manager) error {
		if f != Immediate && f != OnResponse {
			return fmt.Errorf("session: WithFlushMode(%d): unknown flush mode", int(f))
		}
		m.mode = f
		return nil
	}
}

// WithErrorHandler sets the function that writes the response when the
// middleware meets an error it cannot return to the handler: the session
// could not be loaded (the engine failed), or the request's changes could
// not be written before the response went out ([OnResponse]). The manager
// first logs the error (one line, without the session ID), clears the
// headers the handler had set, then calls h; anything the handler writes
// afterwards is discarded. Default: a plain-text "500 Internal Server
// Error".
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(m *Manager) error {
		if h == nil {
			return fmt.Errorf("session: WithErrorHandler: handler is nil")
		}
		m.onError = h
		return nil
	}
}

// WithLogger sets the logger for errors (one line each; session IDs are
// never logged). Default [slog.Default] at the time of the log call.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) error {
		if l == nil {
			return fmt.Errorf("session: WithLogger: logger is nil")
		}
		m.log = l
		return nil
	}
}

// WithErrorReporter sets a function called with errors that happen
// outside a response the middleware could change: errors passed to
// [Session.Report] (generated getters report decode failures this way)
// and failures of the sliding-expiry extension after the headers went
// out. Each is also logged. Default: none (log only).
func WithErrorReporter(f func(ctx context.Context, err error)) Option {
	return func(m *Manager) error {
		m.report = f
		return nil
	}
}

// defaultErrorHandler answers with a plain-text 500.
func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// WithNode sets this manager's node ID, which its bus messages carry so
// that it can ignore its own (see [WithBus]). Every manager sharing a bus
// needs a different one. Default: 16 random characters, new for every
// [New]. id must not be empty.
func WithNode(id string) Option {
	return func(m *Manager) error {
		if id == "" {
			return fmt.Errorf("session: WithNode: the node ID is empty")
		}
		m.node = id
		return nil
	}
}

// WithBus sets the bus over which managers sharing an engine tell each
// other about changes, so no sticky load balancing is needed. After every
// change this manager makes in the engine (set, remove, expiry extension,
// owner change, renew, destroy, revoke, expiry found on read) it
// publishes a message with the session's engine key and new version, from
// a background goroutine (the request does not wait for the bus; see
// [DefaultPublishQueue]). It applies the messages of the other managers:
// a cached session another manager changed or deleted is dropped, so the
// next request loads it again. Messages are compared by version, so
// their order does not matter.
//
// When the bus fails, the staleness bound ([WithMaxStaleness], default
// [DefaultMaxStalenessWithBus] with a bus) takes over: no request is
// served a cached copy older than the bound unless the bus has proved
// that no change message was missed meanwhile. With a bus that proves
// its subscription live ([bus.Prover]: redisbus, pgbus) this holds in
// every failure mode, a silent stall included (see [WithMaxStaleness]);
// with another bus, from the moment the bus reports the subscription
// down. When the subscription is back, every session cached before is
// revalidated before its next use (messages may have been missed). Both
// transitions are logged. The bus reconnects by itself.
//
// Call [Manager.Close] to stop the subscription and the publisher. The
// manager never closes the bus. Default: no bus.
func WithBus(b bus.Bus) Option {
	return func(m *Manager) error {
		if b == nil {
			return fmt.Errorf("session: WithBus: bus is nil")
		}
		m.bus = b
		return nil
	}
}

// WithMaxStaleness sets the staleness bound d: a request is served a
// cached copy of a session only when that copy is known to hold every
// change the engine completed more than d before the request looked the
// session up (its first use of the session). Otherwise the copy is
// revalidated first, by a version check when the engine implements
// store.Versioner (one small read; an unchanged session is served from
// the cache), else by loading it again. A copy is known to hold those
// changes when it was checked against the engine (loaded, written or
// version-checked) at most d before the lookup, or when the bus vouches
// for it (below).
//
// Without a bus the bound applies always. The default then is 0: no
// bound, the cache is trusted for its TTL ([WithCacheTTL]); that is right
// for one process, but several processes sharing an engine without a bus
// need a bound, or they serve each other's changes late (and destroyed
// sessions) for up to the cache TTL.
//
// With a bus ([WithBus]) change messages keep the cache current, and the
// default is [DefaultMaxStalenessWithBus] (1 second). What the bus
// vouches for depends on the bus:
//
//   - A bus that proves its subscription live ([bus.Prover]: redisbus,
//     pgbus) is asked for a proof every d/4: a round trip on the
//     subscription's own connection showing that every message published
//     before it has been applied. An older copy is served while the
//     latest proof is at most 3d/4 old and the copy was checked after the
//     subscription last came up. So the bound holds in every failure mode
//     of the subscription: an outage the bus reports, and a stall it has
//     not noticed yet (a paused server, a network path that silently
//     drops packets): old copies stop being served 3d/4 after the last
//     proof's round trip began, whenever the bus reports the loss
//     (normally two proof intervals, d/2, after it; it is logged). The one
//     assumption: a change's message reaches the bus within d/4 of the
//     change (the publisher sends it at once, normally within
//     milliseconds). A message the publisher cannot send at all is
//     logged (see [DefaultPublishQueue]); while the bus stays live, the
//     other managers see that change only once their copy leaves the
//     cache or is checked for another reason.
//   - With any other bus ([bus.Local], or one of your own) the bound
//     applies while the bus reports the subscription down; while it is
//     up, cached copies are trusted.
//
// d = 0 disables the bound (then, while the subscription is down, cached
// copies are served as they are, and no proofs are asked for). d must
// not be negative.
func WithMaxStaleness(d time.Duration) Option {
	return func(m *Manager) error {
		if d < 0 {
			return fmt.Errorf("session: WithMaxStaleness(%v): the bound must not be negative", d)
		}
		m.maxStale, m.staleSet = d, true
		return nil
	}
}

// WithOwnerKey names the key that holds a session's owner, typically the
// user ID written at login, for [Manager.Sessions], [Manager.RevokeAll]
// and [Manager.RevokeOthers]. Its value must be a string (valid UTF-8, no
// NUL byte) or an integer, which is indexed as decimal text: a Set of
// another type fails with [ErrInvalidOwner] naming the key and changes
// nothing; removing the key (or setting msgpack nil or "") clears the
// owner. The engine keeps the index atomically with the change that
// writes the key (store.OwnerIndex). Default: none (the owner operations
// return [ErrNoOwnerKey]). key must be a valid key (see [ValidKey]).
func WithOwnerKey(key string) Option {
	return func(m *Manager) error {
		if !ValidKey(key) {
			return fmt.Errorf("session: WithOwnerKey(%s): %w", quoteKey(key), ErrInvalidKey)
		}
		m.ownerKey = key
		return nil
	}
}

// WithHooks sets the functions called on lifecycle events: a session
// created, renewed, destroyed (also by a revoke) or found expired. They
// run on a worker goroutine, outside the request; see [Hooks] for the
// queue, its limits and exactly when each fires. Call [Manager.Close] to
// run the queued events and stop the worker. Default: no hooks.
func WithHooks(h Hooks) Option {
	return func(m *Manager) error {
		m.hooks = h
		return nil
	}
}
