package memstore

import "time"

// DefaultCleanupInterval is how often a Store purges expired sessions
// unless [WithCleanupInterval] says otherwise.
const DefaultCleanupInterval = time.Minute

// Option configures a [Store] made by [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	cleanupInterval time.Duration
}

// WithCleanupInterval sets how often expired sessions are purged from
// memory. Default [DefaultCleanupInterval] (1 minute). Zero or a negative
// value turns the background purge off: expired sessions are then still
// invisible, and are dropped when their key is next written.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}
