package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Move gives the live session under from the key to, with c applied, and
// returns the record now under to (see [store.Store.Move]). One round
// trip: a batch of two statements in one implicit transaction, so the
// move is atomic. The first locks the rows of both keys; the second
// checks that from is live and parseable, that no live session holds to
// and c's conditions, then writes the new row (from's created time,
// c.Expires, version 1, c.Owner or from's owner) with from's fields and
// c applied, and deletes from. An Update or Delete of from waits for the
// lock: one that came first is moved (or makes Move fail with
// [store.ErrNotFound]); one that comes after finds nothing.
//
// Move returns ErrNotFound, an error wrapping [store.ErrCorrupt],
// [store.ErrExists], [store.ErrConflict] or [store.ErrTooLarge], in that
// order, having written nothing, and an error wrapping [store.ErrInvalid]
// for an empty key, equal keys, a zero c.Expires or an empty field key.
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	switch {
	case from == "" || to == "":
		return store.Record{}, fmt.Errorf("pgstore: move: %w", errEmptyKey)
	case from == to:
		return store.Record{}, fmt.Errorf("pgstore: move: %w", errSameKeys)
	case c.Expires.IsZero():
		return store.Record{}, fmt.Errorf("pgstore: move: %w", errNoExpiry)
	}
	args, err := newChangeArgs(c)
	if err != nil {
		return store.Record{}, fmt.Errorf("pgstore: move: %w", err)
	}
	now := s.now()

	b := &pgx.Batch{}
	b.Queue(s.q.moveLock, from, to)
	b.Queue(s.q.move, append(args.params(from, now), to)...)
	br := s.pool.SendBatch(ctx, b)
	var (
		sane, free, expected, fits bool
		created, expires           pgtype.Timestamptz // NULL when nothing was written
		owner                      *string
		names                      []string
		values                     [][]byte
	)
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&sane, &free, &expected, &fits, &created, &expires, &owner, &names, &values)
	}
	// A failure to close the batch outranks "no row".
	if cerr := br.Close(); cerr != nil && (err == nil || errors.Is(err, pgx.ErrNoRows)) {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("pgstore: move: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("pgstore: move: %w", err)
	}
	if err := verdict(from, sane, free, expected, fits); err != nil {
		return store.Record{}, fmt.Errorf("pgstore: move: %w", err)
	}
	if !created.Valid {
		// The checks passed but the insert found a live session under
		// to, created since the checks' snapshot.
		return store.Record{}, fmt.Errorf("pgstore: move: %w", store.ErrExists)
	}
	rec := store.Record{
		Fields:  make(map[string][]byte, len(names)),
		Created: created.Time,
		Expires: expires.Time,
		Version: 1,
	}
	// One aggregate built both arrays, so they are in step.
	for i := range min(len(names), len(values)) {
		rec.Fields[names[i]] = values[i]
	}
	if owner != nil {
		rec.Owner = *owner
	}
	return rec, nil
}
