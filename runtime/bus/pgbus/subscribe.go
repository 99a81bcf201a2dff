package pgbus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Reconnection backoff: the first retry after a loss waits about
// backoffMin, each failed attempt doubles the wait up to backoffMax.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

// connectTimeout bounds opening the listener connection when the pool's
// settings give no connect_timeout.
const connectTimeout = 10 * time.Second

// closeTimeout bounds closing the listener connection.
const closeTimeout = time.Second

// Subscribe delivers the messages notified on the channel to deliver
// until ctx is done, then returns ctx's error; see [bus.Bus]. It listens
// on a connection of its own and listens anew by itself after a failure
// (see the package doc): state(true) once each LISTEN has succeeded,
// state(false) each time the connection is lost. The first call is
// state(true); the calls alternate; none follows the return, and the end
// of ctx is not reported as a loss. state may be nil; a nil deliver is an
// error. Messages notified while no listener is up are not delivered.
func (b *Bus) Subscribe(ctx context.Context, deliver func(bus.Message), state func(up bool)) error {
	if deliver == nil {
		return fmt.Errorf("pgbus: subscribe: %w: nil deliver", errInvalid)
	}
	if state == nil {
		state = func(bool) {}
	}
	wait := backoffMin
	failures := 0 // failed attempts since the last subscription
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		up, err := b.run(ctx, deliver, func() {
			b.log.Info("pgbus: listening", "channel", b.cfg.channel, "failed_attempts", failures)
			state(true)
		})
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		switch {
		case up:
			state(false)
			b.log.Warn("pgbus: listener connection lost; listening again", "channel", b.cfg.channel, "error", err)
			wait, failures = backoffMin, 0
		case failures == 0:
			failures++
			b.log.Warn("pgbus: cannot listen; retrying", "channel", b.cfg.channel, "error", err)
		default:
			failures++
			b.log.Debug("pgbus: cannot listen; retrying", "channel", b.cfg.channel, "failed_attempts", failures, "error", err)
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, backoffMax)
	}
}

// run opens a listener connection, listens and delivers notifications
// until the connection fails or ctx ends. It calls up once LISTEN has
// succeeded, and reports whether it did.
func (b *Bus) run(ctx context.Context, deliver func(bus.Message), up func()) (wasUp bool, err error) {
	cctx := ctx
	if b.conn.ConnectTimeout == 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	conn, err := pgx.ConnectConfig(cctx, b.conn)
	if err != nil {
		return false, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	}()

	lctx, cancel := context.WithTimeout(ctx, 2*b.cfg.health)
	_, err = conn.Exec(lctx, b.listen)
	cancel()
	if err != nil {
		return false, err
	}
	up()

	for {
		wctx, cancel := context.WithTimeout(ctx, b.cfg.health)
		n, err := conn.WaitForNotification(wctx)
		silent := wctx.Err() != nil
		cancel()
		if n != nil && n.Channel == b.cfg.channel {
			b.handle(n.Payload, deliver)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil || !silent || conn.IsClosed() {
			return true, err
		}
		// Silent for a whole interval: check the connection, allowing
		// it another interval. Notifications arriving meanwhile are
		// buffered for the next wait.
		pctx, cancel := context.WithTimeout(ctx, b.cfg.health)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return true, err
		}
	}
}
