// Package bus carries session-change announcements between managers that
// share one storage engine, so each can drop or refresh its cached copy
// of a session another node changed ("many nodes, one truth": no sticky
// load balancing needed).
//
// A [Bus] is implemented per transport: redisbus (Redis pub/sub, also on
// Redis Cluster and beside any engine), pgbus (PostgreSQL
// LISTEN/NOTIFY) and [Local] (managers in one process, and tests). The manager (package session, option WithBus) publishes
// a [Message] after every change it makes and applies the messages of
// other nodes.
//
// A transport can stall without an error: a paused server or a network
// path that silently drops packets leaves a subscription that looks up
// and delivers nothing. A transport that implements [Prover] (redisbus,
// pgbus) proves its subscription live with periodic round trips, so a
// subscriber knows at any moment up to when its view of the bus is
// complete, whatever the failure.
package bus

import (
	"context"
	"time"
)

// Kind says what happened to a session.
type Kind uint8

const (
	// Changed: fields, expiry, owner or ID changed (set, remove, touch,
	// renew to a new key).
	Changed Kind = iota + 1
	// Deleted: the session is gone (destroy, revoke, renew's old key,
	// expiry detected on read).
	Deleted
)

// Message announces one change of one session.
type Message struct {
	// Node is the publishing manager's node ID, so a manager can ignore
	// its own messages.
	Node string
	// Key is the session's engine key (store.Key of the ID, never the ID).
	Key string
	// Version is the session's version after the change (see
	// store.Record.Version); 0 for Deleted. Receivers compare versions,
	// never clocks, so messages may arrive in any order.
	Version uint64
	// Kind says what happened.
	Kind Kind
}

// Bus publishes and delivers messages. Implementations are safe for
// concurrent use.
type Bus interface {
	// Publish sends m to every subscriber on every node (including this
	// one: subscribers filter by Node).
	Publish(ctx context.Context, m Message) error

	// Subscribe delivers every message published from now on to deliver,
	// until ctx is done; then it returns ctx's error. It reconnects by
	// itself after a failure: state(true) is called each time the
	// subscription is established (also the first time) and state(false)
	// each time it is lost, so the caller knows when messages may have
	// been missed. deliver and state are called from one goroutine, never
	// concurrently.
	Subscribe(ctx context.Context, deliver func(Message), state func(up bool)) error
}

// Prover is implemented by a [Bus] whose subscriptions prove that they
// are live. Subscribe reports a loss only once its health check gives
// up; a proof says, at the moment it is made, that nothing published up
// to a given time was missed, so a subscriber can bound how far behind it
// may be even while a stall is not yet detected.
type Prover interface {
	Bus

	// SubscribeProved is Subscribe, with the same contract for deliver
	// and state, that also proves the subscription live. While it is up,
	// it makes a round trip through the server on the subscription's own
	// connection at least every interval (more often if the Bus is
	// configured so), and when the answer arrives it calls proved(t),
	// where t is a time taken before the round trip began: every message
	// published on the Bus (its Publish call returned) after the
	// subscription came up and before t has then been passed to
	// deliver. A round trip not answered within interval counts as a
	// loss: state(false), then the Bus subscribes anew.
	//
	// proved is called from the goroutine that calls deliver and state,
	// never concurrently with them, only between a state(true) and the
	// next state(false), with t increasing. interval must be positive;
	// proved may be nil.
	SubscribeProved(ctx context.Context, interval time.Duration, deliver func(Message), state func(up bool), proved func(t time.Time)) error
}
