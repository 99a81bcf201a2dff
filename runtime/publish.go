package session

import (
	"context"
	"log/slog"
	"time"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Publishing change messages (see WithBus).
//
// A request that changes a session puts a message on a buffered queue
// and goes on: one goroutine per manager sends the queued messages to
// the bus in order, so the request path gains no round trip. A message
// that fails to send is tried again twice (after 10 ms and 100 ms), then
// dropped and logged. A full queue ([DefaultPublishQueue] messages, the
// bus far behind) makes the writing request wait up to [QueueWait]; then
// the message is dropped and logged (at most one line per second, with
// the count). Other nodes see a dropped change when they next revalidate
// their copy: after their cache TTL, or sooner if their subscription
// drops (staleness bound, revalidation when it is back).

// DefaultPublishQueue is how many change messages may wait for the bus.
const DefaultPublishQueue = 8192

const (
	// publishTimeout bounds one Publish call.
	publishTimeout = 5 * time.Second
	// closeFlush bounds how long Close spends sending the messages still
	// queued.
	closeFlush = 2 * time.Second
)

// publishBackoff is the wait before each retry of a failed Publish.
var publishBackoff = []time.Duration{10 * time.Millisecond, 100 * time.Millisecond}

// publish queues the message that the session with engine key key
// changed to version v (kind Changed) or is gone (kind Deleted). Without
// a bus it does nothing.
func (m *Manager) publish(ctx context.Context, kind bus.Kind, key string, v uint64) {
	if m.pubq == nil {
		return
	}
	msg := bus.Message{Node: m.node, Key: key, Version: v, Kind: kind}
	if !enqueue(m.pubq, msg, m.done) {
		m.pubDrops.drop(ctx, m.logger(), "session: bus publish queue full or manager closed; change message dropped")
	}
}

// runPublisher sends queued messages until the manager is closed, then
// sends what is still queued (for at most closeFlush) and returns.
func (m *Manager) runPublisher() {
	defer m.wg.Done()
	for {
		select {
		case msg := <-m.pubq:
			m.send(msg)
		case <-m.done:
			ctx, cancel := context.WithTimeout(context.Background(), closeFlush)
			defer cancel()
			for {
				select {
				case msg := <-m.pubq:
					if err := m.bus.Publish(ctx, msg); err != nil {
						m.pubFails.drop(ctx, m.logger(), "session: bus publish failed at close; change message dropped")
					} else {
						m.busSent.Add(1)
					}
				default:
					return
				}
			}
		}
	}
}

// send publishes msg, trying again after a failure.
func (m *Manager) send(msg bus.Message) {
	var err error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		err = m.bus.Publish(ctx, msg)
		cancel()
		if err == nil {
			m.busSent.Add(1)
			return
		}
		if attempt == len(publishBackoff) {
			break
		}
		t := time.NewTimer(publishBackoff[attempt])
		select {
		case <-t.C:
		case <-m.done:
			t.Stop()
		}
	}
	m.pubFails.drop(context.Background(), m.logger().With(slog.Any("err", err)),
		"session: bus publish failed; change message dropped")
}
