//go:build redis

package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// The Redis engine (single server and Cluster) and Redis pub/sub, built
// in with -tags redis.
func init() {
	eng := serverEngine{parse: parseRedis, open: openRedis, bus: redisBus}
	servers["redis"] = eng
	servers["redis-cluster"] = eng
}

// parseRedis checks a redis:// or redis+cluster:// URL.
func parseRedis(raw, scheme, rest string, spec *storeSpec) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	spec.url, spec.where = raw, u.Redacted()
	if spec.kind == "redis" {
		_, err = redis.ParseURL(raw)
	} else {
		spec.url = strings.TrimSuffix(strings.ToLower(scheme), "+cluster") + ":" + rest
		_, err = redis.ParseClusterURL(spec.url)
	}
	if err != nil {
		return fmt.Errorf("%w %s: %v", errStoreURL, u.Redacted(), err)
	}
	return nil
}

// openRedis connects to the server or cluster; the default -bus shares
// its client.
func openRedis(ctx context.Context, spec storeSpec, e *engine) error {
	client, err := redisClient(ctx, spec)
	if err != nil {
		return err
	}
	s, err := redisstore.New(client)
	if err != nil {
		_ = client.Close()
		return err
	}
	e.Store, e.closers = s, []func() error{client.Close}
	e.bus = func(log *slog.Logger) (*openedBus, error) {
		b, err := redisbus.New(client, redisbus.WithLogger(log))
		if err != nil {
			return nil, err
		}
		return &openedBus{Bus: b, where: "redis pub/sub on the store's client"}, nil
	}
	return nil
}

// redisBus opens Redis pub/sub on a client of its own.
func redisBus(ctx context.Context, spec storeSpec, log *slog.Logger) (*openedBus, error) {
	client, err := redisClient(ctx, spec)
	if err != nil {
		return nil, err
	}
	b, err := redisbus.New(client, redisbus.WithLogger(log))
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return &openedBus{Bus: b, where: "redis pub/sub at " + spec.where, close: client.Close}, nil
}

// redisClient connects to the Redis server or cluster of a redis or
// redis-cluster spec and checks that it answers.
func redisClient(ctx context.Context, spec storeSpec) (redis.UniversalClient, error) {
	var client redis.UniversalClient
	if spec.kind == "redis" {
		opts, err := redis.ParseURL(spec.url)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		client = redis.NewClient(opts)
	} else {
		opts, err := redis.ParseClusterURL(spec.url)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		client = redis.NewClusterClient(opts)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", spec.where, err)
	}
	return client, nil
}
