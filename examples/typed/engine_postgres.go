//go:build postgres

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
)

// The PostgreSQL engine and LISTEN/NOTIFY, built in with -tags postgres.
func init() {
	servers["postgres"] = serverEngine{parse: parsePostgres, open: openPostgres, bus: postgresBus}
}

// parsePostgres checks a postgres:// URL.
func parsePostgres(raw, _, _ string, spec *storeSpec) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	if _, err := pgxpool.ParseConfig(raw); err != nil {
		return fmt.Errorf("%w %s: %v", errStoreURL, u.Redacted(), err)
	}
	spec.url, spec.where = raw, u.Redacted()
	return nil
}

// openPostgres connects to the database, creating the tables when
// missing; the default -bus shares its pool.
func openPostgres(ctx context.Context, spec storeSpec, e *engine) error {
	pool, err := pgPool(ctx, spec)
	if err != nil {
		return err
	}
	s, err := pgstore.New(ctx, pool, pgstore.WithCreateSchema(true))
	if err != nil {
		pool.Close()
		return err
	}
	e.Store = s
	e.closers = []func() error{s.Close, func() error { pool.Close(); return nil }}
	e.bus = func(log *slog.Logger) (*openedBus, error) {
		b, err := pgbus.New(pool, pgbus.WithLogger(log))
		if err != nil {
			return nil, err
		}
		return &openedBus{Bus: b, where: "postgres LISTEN/NOTIFY on the store's pool"}, nil
	}
	return nil
}

// postgresBus opens LISTEN/NOTIFY on a pool of its own.
func postgresBus(ctx context.Context, spec storeSpec, log *slog.Logger) (*openedBus, error) {
	pool, err := pgPool(ctx, spec)
	if err != nil {
		return nil, err
	}
	b, err := pgbus.New(pool, pgbus.WithLogger(log))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &openedBus{Bus: b, where: "postgres LISTEN/NOTIFY at " + spec.where, close: func() error { pool.Close(); return nil }}, nil
}

// pgPool opens a connection pool to the database of a postgres spec and
// checks that it answers.
func pgPool(ctx context.Context, spec storeSpec) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, spec.url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s: %w", spec.where, err)
	}
	return pool, nil
}
