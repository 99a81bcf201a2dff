package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// moveAttempts bounds how often Move runs its transaction when the server
// aborts it for a deadlock or a lock wait timeout.
const moveAttempts = 4

// Move gives the live session under from the new key to, with c applied,
// and returns the record now under to (see [store.Store.Move]). It is one
// InnoDB transaction of five round trips: START TRANSACTION; SELECT ...
// FOR UPDATE of from's row, which also waits for and then blocks every
// Update, Delete and Move of from; an INSERT of to (taking over an
// expired row there, or reporting a live one); the DELETE of from; and
// COMMIT. The transaction is atomic: a crash or a lost connection before
// COMMIT leaves both rows as they were, never a copy under to beside a
// live from. c's conditions are checked, with [store.Change.Check],
// against the row read under the lock. A transaction the server aborts
// for a deadlock or a lock wait timeout (possible when two Moves swap
// keys, or against the cleanup's range locks) is rolled back and run
// again, at most [moveAttempts] times in all.
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	rec, err := s.move(ctx, from, to, c)
	if err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: move: %w", err)
	}
	return rec, nil
}

// move is Move without the error prefix.
func (s *Store) move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	if err := checkKey(from); err != nil {
		return store.Record{}, err
	}
	if err := checkKey(to); err != nil {
		return store.Record{}, err
	}
	if from == to {
		return store.Record{}, errSameKeys
	}
	if c.Expires.IsZero() {
		return store.Record{}, errNoExpiry
	}
	if err := checkChangeFields(c); err != nil {
		return store.Record{}, err
	}
	if c.Owner != nil {
		if err := checkOwner(*c.Owner); err != nil {
			return store.Record{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		rec, err := s.moveOnce(ctx, from, to, c)
		if err == nil || attempt == moveAttempts || !retryable(err) || ctx.Err() != nil {
			return rec, err
		}
	}
}

// moveOnce runs Move's transaction once.
func (s *Store) moveOnce(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Record{}, err
	}
	defer tx.Rollback() // after Commit: sql.ErrTxDone, ignored

	now := s.now().UnixMicro()
	old, _, err := s.read(ctx, tx.StmtContext(ctx, s.st.moveLoad), func() *sql.Stmt { return tx.StmtContext(ctx, s.st.moveLoadFull) }, from)
	if err != nil {
		return store.Record{}, err
	}

	rec := store.Record{
		Fields:  old.Fields,
		Created: old.Created,
		Expires: time.UnixMicro(c.Expires.UnixMicro()),
		Version: 1,
		Owner:   old.Owner,
	}
	if c.Owner != nil {
		rec.Owner = *c.Owner
	}
	rec.Fields = c.Apply(old.Fields)
	for k, v := range c.Set {
		rec.Fields[k] = bytes.Clone(v) // the caller keeps its slices
	}
	data := encodeFields(rec.Fields)
	owner := ownerArg(rec.Owner)
	expires := rec.Expires.UnixMicro()
	res, err := tx.StmtContext(ctx, s.st.create).ExecContext(ctx,
		createArgs(to, old.Created.UnixMicro(), expires, owner, data, int64(store.Size(rec.Fields)), now)...)
	if err != nil {
		return store.Record{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return store.Record{}, err
	}
	if id == liveMarker {
		return store.Record{}, store.ErrExists
	}
	// After the INSERT, so a live session under to is reported first, as
	// the other engines do; the rollback undoes the INSERT.
	if err := c.Check(old.Fields); err != nil {
		return store.Record{}, err
	}
	if _, err := tx.StmtContext(ctx, s.st.delete).ExecContext(ctx, from); err != nil {
		return store.Record{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Record{}, err
	}
	return rec, nil
}

// retryable reports whether err is the server aborting a transaction that
// may succeed when run again: a deadlock (ER_LOCK_DEADLOCK) or a lock wait
// timeout (ER_LOCK_WAIT_TIMEOUT).
func retryable(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == 1213 || myErr.Number == 1205)
}
