package redisstore

// Option configures a [Store] in [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	prefix string
}

// WithPrefix sets the prefix of every Redis key the Store writes (default
// [DefaultPrefix], "sess:"). Give each application sharing a server its
// own prefix. The prefix must not hold '{' or '}': the Store puts the
// session key in braces to form the Cluster hash tag.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}
