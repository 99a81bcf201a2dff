package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cleanupBatch is how many sessions one cleanup statement deletes at most,
// so a sweep never holds many row locks at once.
const cleanupBatch = 1000

// cleaner deletes expired sessions. It is separate from Store so the
// goroutine does not keep a forgotten Store reachable.
type cleaner struct {
	pool   *pgxpool.Pool
	query  string
	now    func() time.Time
	logger *slog.Logger
}

// run sweeps every interval until stop is closed, then closes done. A
// sweep in progress is canceled by stop.
func (c *cleaner) run(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := c.sweep(ctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("pgstore: cleanup failed", "err", err)
			}
		}
	}
}

// sweep deletes every session expired by now, a batch at a time, and
// returns how many it deleted.
func (c *cleaner) sweep(ctx context.Context) (int64, error) {
	now := c.now()
	var total int64
	for {
		tag, err := c.pool.Exec(ctx, c.query, now, cleanupBatch)
		if err != nil {
			return total, fmt.Errorf("pgstore: cleanup: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < cleanupBatch {
			return total, nil
		}
	}
}

// DeleteExpired deletes every session that has expired by the store's
// clock, with its fields, and returns how many sessions it deleted. The
// background cleanup calls the same code; call it yourself when
// [WithCleanupInterval] turned that off. Sessions locked by a request at
// the time are left for the next run.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	c := cleaner{pool: s.pool, query: s.q.cleanup, now: s.now}
	return c.sweep(ctx)
}
