package redisbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/resub"
)

// Reasons a subscription counts as lost without an error from go-redis.
var (
	errNoPong         = errors.New("no answer to PING within the health-check interval")
	errNoConfirmation = errors.New("no subscription confirmation within two health-check intervals")
	errUnsubscribed   = errors.New("the server ended the subscription")
)

// Subscribe delivers the messages published on the channel to deliver
// until ctx is done, then returns ctx's error; see [bus.Bus]. It
// subscribes on a connection of its own and resubscribes by itself after
// a failure (see the package doc): state(true) once Redis confirms each
// subscription, state(false) each time one is lost. The first call is
// state(true); the calls alternate; none follows the return, and the end
// of ctx is not reported as a loss. state may be nil; a nil deliver is an
// error. Messages published while no subscription is up are not
// delivered.
func (b *Bus) Subscribe(ctx context.Context, deliver func(bus.Message), state func(up bool)) error {
	if deliver == nil {
		return fmt.Errorf("redisbus: subscribe: %w: nil deliver", errInvalid)
	}
	if state == nil {
		state = func(bool) {}
	}
	return resub.Loop(ctx, b.log, b.cfg.channel, resub.Logs{
		Up:    "redisbus: subscribed",
		Lost:  "redisbus: subscription lost; resubscribing",
		Retry: "redisbus: cannot subscribe; retrying",
	}, state, func(ctx context.Context, up func()) (bool, error) {
		return b.listen(ctx, deliver, up)
	})
}

// listen runs one subscription on a new connection until it fails or ctx
// ends. It calls up once Redis has confirmed the subscription, and
// reports whether it did.
func (b *Bus) listen(ctx context.Context, deliver func(bus.Message), up func()) (wasUp bool, err error) {
	ps := b.client.Subscribe(ctx) // no channel yet: no round trip
	defer ps.Close()
	// Receive does not watch the context; closing the PubSub ends a
	// blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	if err := ps.Subscribe(ctx, b.cfg.channel); err != nil {
		return false, err
	}
	if err := b.confirm(ctx, ps); err != nil {
		return false, err
	}
	up()

	pinged := false
	for {
		// The read gives up after one interval. On a read error
		// go-redis reconnects inside ReceiveTimeout before returning;
		// the context's deadline bounds that attempt, so the loss is
		// reported promptly even when dialing hangs.
		rctx, cancel := context.WithTimeout(ctx, 2*b.cfg.health)
		msg, err := ps.ReceiveTimeout(rctx, b.cfg.health)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !isTimeout(err) {
				return true, err
			}
			// Silent for a whole interval: ask; silent for another
			// one after asking: lost.
			if pinged {
				return true, errNoPong
			}
			pctx, cancel := context.WithTimeout(ctx, b.cfg.health)
			err := ps.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
			pinged = true
			continue
		}
		pinged = false // anything received proves the connection alive
		switch m := msg.(type) {
		case *redis.Message:
			b.dec.Handle(m.Payload, deliver)
		case *redis.Subscription:
			if m.Kind == "unsubscribe" && m.Channel == b.cfg.channel {
				return true, errUnsubscribed
			}
		}
	}
}

// confirm waits, at most two health-check intervals, for Redis to confirm
// the subscription to the Bus's channel.
func (b *Bus) confirm(ctx context.Context, ps *redis.PubSub) error {
	deadline := time.Now().Add(2 * b.cfg.health)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errNoConfirmation
		}
		msg, err := ps.ReceiveTimeout(ctx, left)
		if err != nil {
			if ctx.Err() == nil && isTimeout(err) {
				return errNoConfirmation
			}
			return err
		}
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" && s.Channel == b.cfg.channel {
			return nil
		}
	}
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
