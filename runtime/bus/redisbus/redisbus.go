// Package redisbus is a [bus.Bus] on Redis pub/sub, built on
// github.com/redis/go-redis/v9. It works with a single server, Sentinel
// (redis.NewFailoverClient) and Redis Cluster (redis.NewClusterClient):
// [New] takes any redis.UniversalClient. It serves beside any storage
// engine, not only redisstore.
//
// # Messages
//
// Publish is one PUBLISH of the message in the wire format of package bus
// ([bus.Encode]) on the Bus's channel (default "sessiongen:bus"). Every
// subscriber on the channel, the publisher's own included, receives it.
// Redis pub/sub delivers at most once: what is published while a
// subscription is down is lost, which is why Subscribe reports state
// changes. Payloads that do not decode are skipped, counted
// ([Bus.Malformed]) and logged; they never end a subscription.
//
// # Redis Cluster
//
// On a Cluster the Bus uses plain PUBLISH and SUBSCRIBE, not the sharded
// SPUBLISH and SSUBSCRIBE: the cluster forwards a plain PUBLISH to every
// node, so a subscriber connected to any node receives every message,
// and a resharding or failover never moves the channel. The cost is that
// each message crosses the cluster bus to every node, which is small for
// the traffic of session changes.
//
// go-redis subscribes on the master that owns the channel name's hash
// slot, and the Bus publishes on that same master (go-redis alone would
// spread keyless PUBLISH commands over the shards, and messages entering
// through different nodes can overtake each other on the cluster bus). So
// the messages of one publisher arrive in the order it sent them, as on a
// single server. While that master is failing, Publish falls back to any
// node: delivered, but possibly out of order, which receivers tolerate
// since they compare versions.
//
// # Failure detection
//
// go-redis's PubSub reconnects by itself but does not say when it lost
// its connection, and messages published meanwhile are lost. So the Bus
// does not rely on it: it watches its subscription with a PING on the
// subscription's connection every health-check interval ([WithHealthCheck];
// [Bus.SubscribeProved] may ask for a shorter one), one at a time. An
// error, or a PING not answered within the interval, counts as a loss:
// the Bus reports it (state(false)), drops the connection, and subscribes
// anew with exponential backoff (50ms up to 2s, jittered), reporting
// state(true) when Redis confirms the new subscription. A connection the
// server closes is noticed at once; one that silently stops answering (a
// paused server, a dropped network path) within two intervals of its
// last answered PING.
//
// Each answered PING also proves that every message published before it
// was sent has been delivered: [Bus.SubscribeProved] passes these proofs
// on ([bus.Prover]), which is how a session manager keeps its staleness
// bound exact even before a stall is detected.
//
// The Bus never closes the client: it stays owned by the caller, who
// closes it after the last Subscribe has returned.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/resub"
)

// errInvalid reports arguments the Bus refuses before any round trip.
var errInvalid = errors.New("invalid argument")

// Bus is a [bus.Bus] on Redis pub/sub. It is safe for concurrent use;
// create it with [New].
type Bus struct {
	client redis.UniversalClient
	cfg    config
	log    *slog.Logger
	dec    resub.Decoder
}

var _ bus.Prover = (*Bus)(nil)

// New returns a Bus on client. It checks its arguments but does not
// contact the server: Publish and Subscribe do.
func New(client redis.UniversalClient, opts ...Option) (*Bus, error) {
	if isNilClient(client) {
		return nil, fmt.Errorf("redisbus: new: %w: nil client", errInvalid)
	}
	cfg := config{channel: DefaultChannel, health: DefaultHealthCheck}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.channel == "" {
		return nil, fmt.Errorf("redisbus: new: %w: empty channel name", errInvalid)
	}
	if cfg.health <= 0 {
		return nil, fmt.Errorf("redisbus: new: %w: health-check interval %v is not positive", errInvalid, cfg.health)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{
		client: client,
		cfg:    cfg,
		log:    log,
		dec:    resub.Decoder{Log: log, Name: "redisbus", Channel: cfg.channel},
	}, nil
}

// isNilClient reports whether c is nil or a nil pointer of one of
// go-redis's client types.
func isNilClient(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return v == nil
	case *redis.ClusterClient:
		return v == nil
	case *redis.Ring:
		return v == nil
	}
	return false
}

// Publish sends m to every subscriber of the channel with one PUBLISH. A
// message that fails [bus.Message.Validate] is refused (the error wraps
// [bus.ErrMalformed]) and nothing is sent.
func (b *Bus) Publish(ctx context.Context, m bus.Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("redisbus: publish: %w", err)
	}
	payload := bus.Encode(m)
	cc, ok := b.client.(*redis.ClusterClient)
	if !ok {
		if err := b.client.Publish(ctx, b.cfg.channel, payload).Err(); err != nil {
			return fmt.Errorf("redisbus: publish: %w", err)
		}
		return nil
	}
	// Cluster: PUBLISH has no key, so go-redis would spread publishes
	// over the shards, and two messages entering through different nodes
	// may overtake each other on the cluster bus. Publishing on the
	// master owning the channel's slot (where a ClusterClient subscribes
	// too) keeps one publisher's messages in order.
	node, err := cc.MasterForKey(ctx, b.cfg.channel)
	if err == nil {
		if err = node.Publish(ctx, b.cfg.channel, payload).Err(); err == nil {
			return nil
		}
	}
	// That master is unknown or failing (a failover under way): have the
	// client learn the new layout, and publish through any node rather
	// than lose the message.
	cc.ReloadState(ctx)
	if err2 := cc.Publish(ctx, b.cfg.channel, payload).Err(); err2 != nil {
		return fmt.Errorf("redisbus: publish: %w", errors.Join(err, err2))
	}
	return nil
}

// Malformed returns how many received payloads the Bus's subscriptions
// skipped because they were not messages in the wire format, since New.
func (b *Bus) Malformed() uint64 { return b.dec.Malformed() }
