package mysqlstore

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults used by [New] and [Schema] unless an option says otherwise.
const (
	// DefaultTable is the table holding one row per session.
	DefaultTable = "sessiongen_sessions"
	// DefaultCleanupInterval is how often expired sessions are deleted.
	DefaultCleanupInterval = 5 * time.Minute
	// DefaultMaxGroup is the most Updates and Creates one group commits
	// in one transaction (see [WithMaxGroup]).
	DefaultMaxGroup = 64
)

// groupLanes is how many groups are in flight at once (see "Group
// commit" in the package doc).
const groupLanes = 2

// Option configures a [Store] made by [New], and the DDL [Schema] prints.
type Option func(*config)

// config holds the settings options change.
type config struct {
	table           string
	createSchema    bool
	cleanupInterval time.Duration
	now             func() time.Time
	logger          *slog.Logger
	maxGroup        int
	lanes           int // groups in flight at once (tests set 1)
}

// newConfig applies opts over the defaults.
func newConfig(opts []Option) config {
	c := config{
		table:           DefaultTable,
		cleanupInterval: DefaultCleanupInterval,
		now:             time.Now,
		maxGroup:        DefaultMaxGroup,
		lanes:           groupLanes,
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

// WithTable names the table the store uses. The name may be qualified by
// a database ("auth.sessions"); each part is quoted, so it is taken exactly
// as written. Default [DefaultTable].
func WithTable(name string) Option {
	return func(c *config) { c.table = name }
}

// WithCreateSchema makes [New] create the table when it does not exist yet
// (CREATE TABLE IF NOT EXISTS). Default false: New only checks that the
// table is there, and the schema comes from a migration holding the DDL
// [Schema] returns.
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

// WithMaxGroup sets the most changes (Updates and Creates) the store
// sends in one group: while a group is in flight, the changes that arrive
// wait, and the next group commits up to n of them in one transaction
// (see the package documentation). Default [DefaultMaxGroup] (64). 1
// turns grouping off: every change is its own statement, sent at once
// on a connection of its own, concurrently with the others. [New]
// refuses n below 1.
func WithMaxGroup(n int) Option {
	return func(c *config) { c.maxGroup = n }
}

// check refuses settings no store can run with.
func (c config) check() error {
	if c.maxGroup < 1 {
		return fmt.Errorf("WithMaxGroup(%d): a group holds at least 1 change", c.maxGroup)
	}
	return nil
}
