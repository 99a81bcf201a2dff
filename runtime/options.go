package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

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

// WithCacheLimit sets how many sessions the in-process cache holds at
// most; less recently and less frequently used sessions are evicted first
// and loaded from the engine again when needed. Default
// [DefaultCacheLimit] (100,000). n must be at least 1.
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
// after it was loaded from the engine (or created). It bounds how long
// this process may serve a session without seeing changes that another
// process made to it. Default [DefaultCacheTTL] (1 hour). d must be
// positive.
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
