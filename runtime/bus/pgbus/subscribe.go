package pgbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
	return b.subscribe(ctx, b.cfg.health, deliver, state, nil)
}

// SubscribeProved is [Bus.Subscribe] that also proves the subscription
// live (see [bus.Prover]): every interval, or every health-check interval
// if that is shorter ([WithHealthCheck]), the listener connection sends a
// notification to itself, on a private channel it also listens on, and
// calls proved(t) when that notification comes back, t being the time
// just before it was sent. PostgreSQL queues notifications in one queue,
// a transaction's when it commits, and sends each listener the entries
// of its channels in queue order; so every message whose Publish
// returned (committed) before t was sent before the probe and has been
// passed to deliver. A probe not back within the interval counts as a
// lost connection. interval must be positive; proved may be nil.
func (b *Bus) SubscribeProved(ctx context.Context, interval time.Duration, deliver func(bus.Message), state func(up bool), proved func(t time.Time)) error {
	if interval <= 0 {
		return fmt.Errorf("pgbus: subscribe: %w: proof interval %v is not positive", errInvalid, interval)
	}
	return b.subscribe(ctx, min(interval, b.cfg.health), deliver, state, proved)
}

// subscribe runs listeners checked every interval until ctx ends.
func (b *Bus) subscribe(ctx context.Context, interval time.Duration, deliver func(bus.Message), state func(up bool), proved func(time.Time)) error {
	if deliver == nil {
		return fmt.Errorf("pgbus: subscribe: %w: nil deliver", errInvalid)
	}
	if state == nil {
		state = func(bool) {}
	}
	if proved == nil {
		proved = func(time.Time) {}
	}
	return resub.Loop(ctx, b.log, b.cfg.channel, resub.Logs{
		Up:    "pgbus: listening",
		Lost:  "pgbus: listener connection lost; listening again",
		Retry: "pgbus: cannot listen; retrying",
	}, state, func(ctx context.Context, up func()) (bool, error) {
		return b.run(ctx, interval, deliver, proved, up)
	})
}

// errNoProbe reports a probe that did not come back in time.
var errNoProbe = errors.New("no answer to the health check within the health-check interval")

// run opens a listener connection, listens and delivers notifications
// until the connection fails or ctx ends. It calls up once LISTEN has
// succeeded, and reports whether it did.
//
// Once up, it keeps one probe in flight at a time: a NOTIFY on the
// connection's private channel, sent every interval and carrying its
// sequence number. The probe coming back proves the connection live up
// to the moment it was sent (proved); a probe not back within the
// interval ends the connection. So a connection that silently stops
// answering is given up at most two intervals after its last proof.
func (b *Bus) run(ctx context.Context, interval time.Duration, deliver func(bus.Message), proved func(time.Time), up func()) (wasUp bool, err error) {
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

	probeChannel := probeChannel()
	notify := "NOTIFY " + pgx.Identifier{probeChannel}.Sanitize() + ", '"
	lctx, cancel := context.WithTimeout(ctx, 2*interval)
	_, err = conn.Exec(lctx, b.listen+"; LISTEN "+pgx.Identifier{probeChannel}.Sanitize())
	cancel()
	if err != nil {
		return false, err
	}
	up()

	var (
		seq  uint64       // the number of the last probe sent
		sent time.Time    // when the probe in flight was sent; zero: none
		next = time.Now() // when the next probe is due
	)
	for {
		if now := time.Now(); sent.IsZero() && !now.Before(next) {
			seq++
			sent = now
			pctx, cancel := context.WithTimeout(ctx, interval)
			_, err := conn.Exec(pctx, notify+strconv.FormatUint(seq, 10)+"'")
			cancel()
			if err != nil {
				return true, err
			}
		}
		deadline := next
		if !sent.IsZero() {
			deadline = sent.Add(interval)
		}
		if !time.Now().Before(deadline) {
			if !sent.IsZero() {
				return true, errNoProbe
			}
			continue // a probe is due
		}
		// Notifications that came in during the probe's round trip are
		// buffered; this returns them first, in order.
		wctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := conn.WaitForNotification(wctx)
		silent := wctx.Err() != nil
		cancel()
		if n != nil {
			switch {
			case n.Channel == b.cfg.channel:
				b.dec.Handle(n.Payload, deliver)
			case n.Channel == probeChannel && !sent.IsZero() && n.Payload == strconv.FormatUint(seq, 10):
				proved(sent)
				next, sent = sent.Add(interval), time.Time{}
			}
		}
		if err != nil && (ctx.Err() != nil || !silent || conn.IsClosed()) {
			return true, err
		}
		// Otherwise the deadline passed: checked above.
	}
}

// probeChannel returns a channel name for one listener connection's
// probes: no other connection listens on it.
func probeChannel() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "sessiongen_probe_" + hex.EncodeToString(b[:])
}
