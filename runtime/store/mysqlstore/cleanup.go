package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// cleaner deletes expired sessions. It is separate from Store so the
// goroutine does not keep a forgotten Store reachable.
type cleaner struct {
	stmt   *sql.Stmt
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
				c.logger.Warn("mysqlstore: cleanup failed", "err", err)
			}
		}
	}
}

// sweep deletes every session expired by now, a batch at a time, and
// returns how many it deleted.
func (c *cleaner) sweep(ctx context.Context) (int64, error) {
	now := c.now().UnixMicro()
	var total int64
	for {
		res, err := c.stmt.ExecContext(ctx, now)
		if err != nil {
			return total, fmt.Errorf("mysqlstore: cleanup: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("mysqlstore: cleanup: %w", err)
		}
		total += n
		if n < cleanupBatch {
			return total, nil
		}
	}
}

// DeleteExpired deletes every session that has expired by the store's
// clock and returns how many it deleted. The background cleanup calls the
// same code; call it yourself when [WithCleanupInterval] turned that off.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	c := cleaner{stmt: s.st.cleanup, now: s.now}
	return c.sweep(ctx)
}
