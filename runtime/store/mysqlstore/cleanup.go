package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store/internal/cleanup"
)

// cleaner deletes expired sessions. It is separate from Store so the
// background goroutine does not keep a forgotten Store reachable.
type cleaner struct {
	stmt *sql.Stmt
	now  func() time.Time
}

// sweep deletes every session expired by now, a batch at a time, and
// returns how many it deleted.
func (c *cleaner) sweep(ctx context.Context) (int64, error) {
	now := c.now().UnixMicro()
	total, err := cleanup.Sweep(ctx, cleanupBatch, func(ctx context.Context) (int64, error) {
		res, err := c.stmt.ExecContext(ctx, now)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if err != nil {
		return total, fmt.Errorf("mysqlstore: cleanup: %w", err)
	}
	return total, nil
}

// DeleteExpired deletes every session that has expired by the store's
// clock and returns how many it deleted. The background cleanup calls the
// same code; call it yourself when [WithCleanupInterval] turned that off.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	c := cleaner{stmt: s.st.cleanup, now: s.now}
	return c.sweep(ctx)
}
