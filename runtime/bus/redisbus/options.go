package redisbus

import (
	"log/slog"
	"time"
)

// DefaultChannel is the Redis pub/sub channel a [Bus] uses unless
// [WithChannel] names another.
const DefaultChannel = "sessiongen:bus"

// DefaultHealthCheck is the health-check interval unless
// [WithHealthCheck] sets another.
const DefaultHealthCheck = time.Second

// Option configures a [Bus] in [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	channel string
	logger  *slog.Logger
	health  time.Duration
}

// WithChannel sets the pub/sub channel (default [DefaultChannel],
// "sessiongen:bus"). Every manager that shares sessions must use the same
// channel; applications sharing a server each need their own. The name
// must not be empty.
func WithChannel(name string) Option {
	return func(c *config) { c.channel = name }
}

// WithLogger sets the logger for subscription changes (subscribed: Info;
// lost, with the error: Warn; a failed attempt to resubscribe: Debug) and
// skipped malformed messages (Warn). Default: nothing is logged. Log
// lines name the channel, never a session.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHealthCheck sets how often the Bus sends a PING on its
// subscription's connection (default [DefaultHealthCheck], one second;
// [Bus.SubscribeProved] uses the shorter of this and the interval it is
// given). A PING not answered within the interval counts as a lost
// subscription. A connection the server closes or resets is noticed at
// once; one that silently stops answering (a paused server, a dropped
// network path) is noticed within two intervals. The interval also bounds
// the wait for the confirmation of a new subscription (two intervals). It
// must be positive.
func WithHealthCheck(d time.Duration) Option {
	return func(c *config) { c.health = d }
}
