package pgstore

import (
	"log/slog"
	"time"
)

// Defaults used by [New] and [Schema] unless an option says otherwise.
const (
	// DefaultSessionsTable is the table holding one row per session.
	DefaultSessionsTable = "sessiongen_sessions"
	// DefaultFieldsTable is the table holding one row per session field.
	DefaultFieldsTable = "sessiongen_fields"
	// DefaultCleanupInterval is how often expired sessions are deleted.
	DefaultCleanupInterval = 5 * time.Minute
	// DefaultMaxGroup is the most changes (Creates and Updates) sent to
	// the server in one round trip, one transaction (see [WithMaxGroup]).
	DefaultMaxGroup = 64
)

// Option configures a [Store] made by [New], and the DDL [Schema] prints.
type Option func(*config)

// config holds the settings options change.
type config struct {
	sessionsTable   string
	fieldsTable     string
	createSchema    bool
	cleanupInterval time.Duration
	maxGroup        int
	now             func() time.Time
	logger          *slog.Logger
}

// newConfig applies opts over the defaults.
func newConfig(opts []Option) config {
	c := config{
		sessionsTable:   DefaultSessionsTable,
		fieldsTable:     DefaultFieldsTable,
		cleanupInterval: DefaultCleanupInterval,
		maxGroup:        DefaultMaxGroup,
		now:             time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithTables names the two tables the store uses. A name may be
// schema-qualified ("auth.sessions"); each part is quoted, so it is taken
// exactly as written, case included. Default [DefaultSessionsTable] and
// [DefaultFieldsTable].
func WithTables(sessions, fields string) Option {
	return func(c *config) {
		c.sessionsTable = sessions
		c.fieldsTable = fields
	}
}

// WithCreateSchema makes [New] create the tables and index when they do
// not exist yet (CREATE ... IF NOT EXISTS, serialised between processes by
// an advisory lock). Default false: New only checks that the tables are
// there, and the schema comes from a migration holding the DDL [Schema]
// returns.
func WithCreateSchema(create bool) Option {
	return func(c *config) { c.createSchema = create }
}

// WithCleanupInterval sets how often the store deletes expired sessions in
// the background. Default [DefaultCleanupInterval] (5 minutes). Zero or a
// negative value starts no goroutine: expired sessions are still invisible
// to Load and Update, and [Store.DeleteExpired] purges them when called
// (from a cron job, say).
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}

// WithClock sets the clock that decides whether a session has expired.
// Default time.Now. The store compares expiries with this clock, not the
// database server's, so it agrees with the session manager's clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithLogger sets where failures of the background cleanup are logged (at
// level Warn; requests see their own errors). Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxGroup sets the most changes (Creates and Updates, of any
// sessions) that the store sends in one round trip: while one round trip
// is in flight, the changes that arrive meanwhile wait and go together in
// the next, one batch that the server runs as one transaction, so they
// share its commit and its log flush (see the package doc). A change that
// finds no round trip in flight goes at once. Default [DefaultMaxGroup]
// (64); 1 turns grouping off: every change goes at once, concurrently
// with the others, in a round trip and a transaction of its own. [New]
// refuses n < 1.
func WithMaxGroup(n int) Option {
	return func(c *config) { c.maxGroup = n }
}
