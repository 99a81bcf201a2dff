package pgbus

import (
	"log/slog"
	"time"
)

// DefaultChannel is the NOTIFY channel a [Bus] uses unless [WithChannel]
// names another.
const DefaultChannel = "sessiongen_bus"

// DefaultApplicationName is the application_name of the listener
// connection unless [WithApplicationName] sets another.
const DefaultApplicationName = "sessiongen-bus"

// DefaultHealthCheck is the health-check interval unless
// [WithHealthCheck] sets another.
const DefaultHealthCheck = time.Second

// maxChannel is the longest channel name PostgreSQL takes (NAMEDATALEN
// - 1 bytes); LISTEN would silently truncate a longer one.
const maxChannel = 63

// Option configures a [Bus] in [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	channel string
	appName string
	logger  *slog.Logger
	health  time.Duration
}

// WithChannel sets the NOTIFY channel (default [DefaultChannel],
// "sessiongen_bus"). Every manager that shares sessions must use the same
// channel; applications sharing a database each need their own. The name
// is used exactly as given (case-sensitive; LISTEN quotes it): 1 to 63
// bytes, no NUL byte.
func WithChannel(name string) Option {
	return func(c *config) { c.channel = name }
}

// WithApplicationName sets the application_name of the listener
// connection (default [DefaultApplicationName], "sessiongen-bus"), which
// names it in pg_stat_activity: an operator, or a test, can find it
// there and end it with pg_terminate_backend.
func WithApplicationName(name string) Option {
	return func(c *config) { c.appName = name }
}

// WithLogger sets the logger for subscription changes (listening: Info;
// lost, with the error: Warn; a failed attempt to listen again: Debug)
// and skipped malformed notifications (Warn). Default: nothing is logged.
// Log lines name the channel, never a session.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHealthCheck sets how often the listener connection checks itself
// with a probe, a notification it sends to itself (default
// [DefaultHealthCheck], one second; [Bus.SubscribeProved] uses the
// shorter of this and the interval it is given). A probe not back within
// the interval counts as a lost subscription. A connection the server
// closes (a restart, pg_terminate_backend) is noticed at once; one that
// silently stops answering is noticed within two intervals. The interval
// also bounds the LISTEN round trip (two intervals). It must be positive.
func WithHealthCheck(d time.Duration) Option {
	return func(c *config) { c.health = d }
}
