package redisstore

// Option configures a [Store] in [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	prefix   string
	maxGroup int
}

// DefaultMaxGroup is the most changes the Store sends in one round trip
// when [WithMaxGroup] is not given.
const DefaultMaxGroup = 64

// WithPrefix sets the prefix of every Redis key the Store writes (default
// [DefaultPrefix], "sess:"). Give each application sharing a server its
// own prefix. The prefix must not hold '{' or '}': the Store puts the
// session key in braces to form the Cluster hash tag.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithMaxGroup sets the most changes (Creates and Updates, of any
// sessions) the Store sends together in one pipeline while others are
// in flight (default [DefaultMaxGroup], 64); see "Group commit" in the
// package documentation. 1 turns grouping off: every change goes in a
// round trip of its own, concurrently with the others, as without
// grouping. [New] refuses n < 1.
func WithMaxGroup(n int) Option {
	return func(c *config) { c.maxGroup = n }
}
