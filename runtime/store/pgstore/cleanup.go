package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongen/sessiongen/runtime/store/internal/cleanup"
)

// cleanupBatch is how many sessions one cleanup statement deletes at most,
// so a sweep never holds many row locks at once.
const cleanupBatch = 1000

// cleaner deletes expired sessions. It is separate from Store so the
// background goroutine does not keep a forgotten Store reachable.
type cleaner struct {
	pool  *pgxpool.Pool
	query string
	now   func() time.Time
}

// sweep deletes every session expired by now, a batch at a time, and
// returns how many it deleted.
func (c *cleaner) sweep(ctx context.Context) (int64, error) {
	now := c.now()
	total, err := cleanup.Sweep(ctx, cleanupBatch, func(ctx context.Context) (int64, error) {
		tag, err := c.pool.Exec(ctx, c.query, now, cleanupBatch)
		return tag.RowsAffected(), err
	})
	if err != nil {
		return total, fmt.Errorf("pgstore: cleanup: %w", err)
	}
	return total, nil
}

// DeleteExpired deletes every session that has expired by the store's
// clock, and every damaged one whose expiry is 'infinity' (see the
// package documentation), with their fields, and returns how many
// sessions it deleted. The
// background cleanup calls the same code; call it yourself when
// [WithCleanupInterval] turned that off. Sessions locked by a request at
// the time are left for the next run.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	c := cleaner{pool: s.pool, query: s.q.cleanup, now: s.now}
	return c.sweep(ctx)
}
