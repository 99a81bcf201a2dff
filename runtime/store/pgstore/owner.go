package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/ownercheck"
)

// MaxOwnerLen is the longest owner, in bytes, the store keeps: plenty for
// a user ID, and well below what one entry of a PostgreSQL B-tree index
// can hold.
const MaxOwnerLen = 255

// checkOwner refuses owners the owner column or its index cannot hold
// (see [ownercheck.Check]): longer than [MaxOwnerLen] bytes, not valid
// UTF-8, or holding a NUL byte. The errors wrap [store.ErrInvalid].
func checkOwner(owner string) error { return ownercheck.Check(owner, MaxOwnerLen) }

// Version returns the version of the live session under key, or
// [store.ErrNotFound] when there is none or it has expired, or an error
// wrapping [store.ErrCorrupt] when its row cannot be parsed. One query
// reading one row by its primary key, fields untouched.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("pgstore: version: %w", errEmptyKey)
	}
	var (
		ok bool
		v  int64
	)
	err := s.pool.QueryRow(ctx, s.q.version, key, s.now()).Scan(&ok, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: version: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: version: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("pgstore: version: %w", errCorrupt(key))
	}
	return uint64(v), nil
}

// Owned returns the live sessions whose owner is owner, in no particular
// order: one query served by the partial index on the owner column,
// never a scan of all sessions. An empty owner owns nothing. Rows the
// store cannot parse are left out.
//
// The index is the column itself: Delete removes a session's entry with
// its row, an Update changing the owner moves it in the same statement,
// and expired sessions, which Owned skips, leave with their rows at the
// next cleanup ([WithCleanupInterval], [Store.DeleteExpired]). So the
// index never holds more than the sessions the table holds.
func (s *Store) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if owner == "" {
		return nil, nil
	}
	if err := checkOwner(owner); err != nil {
		return nil, fmt.Errorf("pgstore: owned: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.q.owned, owner, s.now())
	if err != nil {
		return nil, fmt.Errorf("pgstore: owned: %w", err)
	}
	var (
		owned            []store.Owned
		key              string
		created, expires time.Time
		version          int64
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &created, &expires, &version}, func() error {
		owned = append(owned, store.Owned{Key: key, Created: created, Expires: expires, Version: uint64(version)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: owned: %w", err)
	}
	return owned, nil
}
