package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/ownercheck"
)

// MaxOwnerLen is the longest owner, in bytes, the store keeps (the owner
// column is VARBINARY(255)): plenty for a user ID. A longer owner is
// refused with an error wrapping [store.ErrInvalid] rather than truncated
// or hashed, so Load gives back exactly the owner written.
const MaxOwnerLen = 255

// checkOwner refuses owners the owner column cannot hold, or that are not
// text (see [ownercheck.Check], shared with pgstore so both SQL engines
// take the same owners): longer than [MaxOwnerLen] bytes, not valid UTF-8,
// or holding a NUL byte. The errors wrap [store.ErrInvalid].
func checkOwner(owner string) error { return ownercheck.Check(owner, MaxOwnerLen) }

// ownerArg returns the owner column's argument for owner: its bytes (sent
// as binary, whatever the connection's character set), or NULL for none.
func ownerArg(owner string) any {
	if owner == "" {
		return nil
	}
	return []byte(owner)
}

// Version returns the version of the live session under key, or
// [store.ErrNotFound] when there is none or it has expired, or an error
// wrapping [store.ErrCorrupt] when the row holds what the store cannot
// parse. One query reading one row by its primary key (two for a row the
// store did not seal); only the version, the created time and the
// server's verdict on the row cross the wire, not the data.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("mysqlstore: version: %w", err)
	}
	var (
		v, created int64
		valid      bool // sealed, or from versionFull: parseable
	)
	now := s.now().UnixMicro()
	err := s.st.version.QueryRowContext(ctx, key, now).Scan(&v, &created, &valid)
	if err == nil && !valid { // not sealed: the full check decides
		err = s.st.versionFull.QueryRowContext(ctx, key, now).Scan(&v, &created, &valid)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("mysqlstore: version: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: version: %w", err)
	}
	if !valid || v < 1 || created == 0 {
		return 0, fmt.Errorf("mysqlstore: version: %w", corruptError(key, errors.New("the server cannot parse the record")))
	}
	return uint64(v), nil
}

// Owned returns the live sessions whose owner is owner, in no particular
// order: one query served by the index on the owner column, never a scan
// of all sessions. An empty owner owns nothing. Sessions whose rows the
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
		return nil, fmt.Errorf("mysqlstore: owned: %w", err)
	}
	rows, err := s.st.owned.QueryContext(ctx, []byte(owner), s.now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: owned: %w", err)
	}
	defer rows.Close()
	var owned []store.Owned
	for rows.Next() {
		var (
			key                       []byte
			created, expires, version int64
		)
		if err := rows.Scan(&key, &created, &expires, &version); err != nil {
			return nil, fmt.Errorf("mysqlstore: owned: %w", err)
		}
		owned = append(owned, store.Owned{
			Key:     string(key),
			Created: time.UnixMicro(created),
			Expires: time.UnixMicro(expires),
			Version: uint64(version),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysqlstore: owned: %w", err)
	}
	return owned, nil
}
