// Package resub is the reconnect loop the bus transports (redisbus,
// pgbus) share: it runs one transport-specific session after another
// until the context ends, reports each subscription coming up and each
// loss through the state callback of [bus.Bus.Subscribe], logs them, and
// waits with jittered exponential backoff between attempts. Each
// transport keeps its own protocol code in the [Session] it passes.
package resub

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Reconnection backoff: the first retry after a loss waits about
// BackoffMin, each failed attempt doubles the wait up to BackoffMax.
const (
	BackoffMin = 50 * time.Millisecond
	BackoffMax = 2 * time.Second
)

// Session connects, subscribes and receives until the connection fails
// or ctx ends. It calls up once the subscription is established (at most
// once), and reports whether it did together with the error that ended
// it.
type Session func(ctx context.Context, up func()) (wasUp bool, err error)

// Logs holds the log messages of one transport; every line carries the
// channel and, where known, the error and the count of failed attempts.
type Logs struct {
	// Up is logged (Info) each time the subscription is established.
	Up string
	// Lost is logged (Warn) each time an established subscription is lost.
	Lost string
	// Retry is logged when an attempt fails: Warn for the first failure
	// since the last subscription, Debug for the following ones.
	Retry string
}

// Loop runs session again and again until ctx ends, then returns ctx's
// error. state(true) follows each successful subscription and
// state(false) each loss of one; the calls alternate, the first is
// state(true), none follows the return, and the end of ctx is not
// reported as a loss. state must not be nil.
func Loop(ctx context.Context, log *slog.Logger, channel string, logs Logs, state func(up bool), session Session) error {
	wait := BackoffMin
	failures := 0 // failed attempts since the last subscription
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		up, err := session(ctx, func() {
			log.Info(logs.Up, "channel", channel, "failed_attempts", failures)
			state(true)
		})
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		switch {
		case up:
			state(false)
			log.Warn(logs.Lost, "channel", channel, "error", err)
			wait, failures = BackoffMin, 0
		case failures == 0:
			failures++
			log.Warn(logs.Retry, "channel", channel, "error", err)
		default:
			failures++
			log.Debug(logs.Retry, "channel", channel, "failed_attempts", failures, "error", err)
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, BackoffMax)
	}
}
