package redisbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
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
	return b.subscribe(ctx, b.cfg.health, deliver, state, nil)
}

// SubscribeProved is [Bus.Subscribe] that also proves the subscription
// live (see [bus.Prover]): it sends a PING on the subscription's
// connection every interval, or every health-check interval if that is
// shorter ([WithHealthCheck]), and calls proved(t) when the PONG arrives,
// t being the time just before the PING was written. Redis answers a
// connection's commands in order and writes each message published on the
// channel to the subscribers' connections as it runs the PUBLISH, so
// every message whose Publish returned before t came in before that PONG
// and has been passed to deliver. On a Redis Cluster this holds for the
// messages published through the master that owns the channel's slot,
// which is where Publish sends them unless that master is failing (see
// the package doc). A PING not answered within the interval counts as a
// lost subscription. interval must be positive; proved may be nil.
func (b *Bus) SubscribeProved(ctx context.Context, interval time.Duration, deliver func(bus.Message), state func(up bool), proved func(t time.Time)) error {
	if interval <= 0 {
		return fmt.Errorf("redisbus: subscribe: %w: proof interval %v is not positive", errInvalid, interval)
	}
	return b.subscribe(ctx, min(interval, b.cfg.health), deliver, state, proved)
}

// subscribe runs subscriptions checked every interval until ctx ends.
func (b *Bus) subscribe(ctx context.Context, interval time.Duration, deliver func(bus.Message), state func(up bool), proved func(time.Time)) error {
	if deliver == nil {
		return fmt.Errorf("redisbus: subscribe: %w: nil deliver", errInvalid)
	}
	if state == nil {
		state = func(bool) {}
	}
	if proved == nil {
		proved = func(time.Time) {}
	}
	return resub.Loop(ctx, b.log, b.cfg.channel, resub.Logs{
		Up:    "redisbus: subscribed",
		Lost:  "redisbus: subscription lost; resubscribing",
		Retry: "redisbus: cannot subscribe; retrying",
	}, state, func(ctx context.Context, up func()) (bool, error) {
		return b.listen(ctx, interval, deliver, proved, up)
	})
}

// listen runs one subscription on a new connection until it fails or ctx
// ends. It calls up once Redis has confirmed the subscription, and
// reports whether it did.
//
// Once up, it keeps one PING in flight at a time: a PING goes out every
// interval, carrying its sequence number; the matching PONG proves the
// connection live up to the PING (proved), and a PING without its PONG
// within the interval ends the subscription. So a connection that
// silently stops answering is given up at most two intervals after its
// last proof.
func (b *Bus) listen(ctx context.Context, interval time.Duration, deliver func(bus.Message), proved func(time.Time), up func()) (wasUp bool, err error) {
	ps := b.client.Subscribe(ctx) // no channel yet: no round trip
	defer ps.Close()
	// Receive does not watch the context; closing the PubSub ends a
	// blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	if err := ps.Subscribe(ctx, b.cfg.channel); err != nil {
		return false, err
	}
	if err := b.confirm(ctx, ps, 2*interval); err != nil {
		return false, err
	}
	up()

	var (
		seq  uint64       // the number of the last PING sent
		sent time.Time    // when the PING in flight was sent; zero: none
		next = time.Now() // when the next PING is due
	)
	for {
		if now := time.Now(); sent.IsZero() && !now.Before(next) {
			seq++
			sent = now
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := ps.Ping(pctx, probe(seq))
			cancel()
			if err != nil {
				return true, err
			}
		}
		deadline := next
		if !sent.IsZero() {
			deadline = sent.Add(interval)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			if !sent.IsZero() {
				return true, errNoPong
			}
			continue // a PING is due
		}
		// On a read error go-redis reconnects inside ReceiveTimeout
		// before returning; the context's deadline bounds that attempt,
		// so the loss is reported promptly even when dialing hangs.
		rctx, cancel := context.WithTimeout(ctx, wait+interval)
		msg, err := ps.ReceiveTimeout(rctx, wait)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !isTimeout(err) {
				return true, err
			}
			continue // the deadline passed: checked above
		}
		switch m := msg.(type) {
		case *redis.Message:
			b.dec.Handle(m.Payload, deliver)
		case *redis.Pong:
			if !sent.IsZero() && m.Payload == probe(seq) {
				proved(sent)
				next, sent = sent.Add(interval), time.Time{}
			}
		case *redis.Subscription:
			if m.Kind == "unsubscribe" && m.Channel == b.cfg.channel {
				return true, errUnsubscribed
			}
		}
	}
}

// probe returns the payload of PING number seq.
func probe(seq uint64) string {
	return "sessiongen-probe-" + strconv.FormatUint(seq, 10)
}

// confirm waits, at most for timeout, for Redis to confirm the
// subscription to the Bus's channel.
func (b *Bus) confirm(ctx context.Context, ps *redis.PubSub, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
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
