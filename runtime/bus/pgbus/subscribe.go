package pgbus

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/resub"
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
	return resub.Loop(ctx, b.log, b.cfg.channel, resub.Logs{
		Up:    "pgbus: listening",
		Lost:  "pgbus: listener connection lost; listening again",
		Retry: "pgbus: cannot listen; retrying",
	}, state, func(ctx context.Context, up func()) (bool, error) {
		return b.run(ctx, deliver, up)
	})
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
			b.dec.Handle(n.Payload, deliver)
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
