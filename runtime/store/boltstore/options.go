package boltstore

import (
	"os"
	"time"
)

// Defaults of the options.
const (
	// DefaultBucket is the top-level bucket holding the sessions.
	DefaultBucket = "sessions"
	// DefaultFileMode is the permission of a newly created file.
	DefaultFileMode os.FileMode = 0o600
	// DefaultOpenTimeout is how long Open waits for the file lock.
	DefaultOpenTimeout = time.Second
	// DefaultCleanupInterval is how often expired sessions are deleted.
	DefaultCleanupInterval = time.Minute
	// DefaultMaxGroup is the most changes one write transaction holds.
	DefaultMaxGroup = 64
)

// Option configures a [Store] opened by [Open].
type Option func(*config)

// config holds the settings options change.
type config struct {
	bucket          string
	fileMode        os.FileMode
	openTimeout     time.Duration
	cleanupInterval time.Duration
	maxGroup        int
}

// defaultConfig returns the settings before any option.
func defaultConfig() config {
	return config{
		bucket:          DefaultBucket,
		fileMode:        DefaultFileMode,
		openTimeout:     DefaultOpenTimeout,
		cleanupInterval: DefaultCleanupInterval,
		maxGroup:        DefaultMaxGroup,
	}
}

// WithBucket names the top-level bucket that holds the sessions, so
// several stores (or other data) can share one file. Default
// [DefaultBucket] ("sessions"). An empty name makes Open fail.
func WithBucket(name string) Option {
	return func(c *config) { c.bucket = name }
}

// WithFileMode sets the permission bits of the file when Open creates it.
// Default [DefaultFileMode] (0600: the owner only).
func WithFileMode(mode os.FileMode) Option {
	return func(c *config) { c.fileMode = mode }
}

// WithOpenTimeout sets how long Open waits for the file lock another
// process or Store holds before it fails. Default [DefaultOpenTimeout] (1
// second). Zero or a negative value waits for as long as it takes.
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) { c.openTimeout = d }
}

// WithCleanupInterval sets how often expired sessions are deleted from the
// file. Default [DefaultCleanupInterval] (1 minute). Zero or a negative
// value turns the cleanup off: expired sessions are then still invisible,
// and are dropped when their key is next created or deleted, or when
// [Store.Owned] lists their owner.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}

// WithMaxGroup sets the most changes (Create, Update, Delete, Move) that
// one write transaction holds: while a transaction is being committed,
// the changes that arrive meanwhile wait and go together in the next, so
// they share one commit and its file syncs (see the package doc). Default
// [DefaultMaxGroup] (64); 1 gives every change a transaction of its own.
// Open fails for n < 1.
func WithMaxGroup(n int) Option {
	return func(c *config) { c.maxGroup = n }
}
