package boltstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Move gives the live session under from the key to, with c applied, and
// returns the record now under to (see [store.Store.Move]). It runs in
// one bbolt write transaction, so it is atomic: it reads from's live
// record, refuses a live to, checks c's conditions on from's fields,
// writes the new record (from's Created, Version 1, c.Expires, c.Owner
// or from's owner) with its index entries, and deletes from with its
// entries, or, on any error, writes nothing. bbolt runs one write
// transaction at a time, so an Update or Delete of from is wholly before
// the move or wholly after it (then it finds nothing). An expired or
// unreadable record under to is replaced.
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("boltstore: move: %w", err)
	}
	switch {
	case from == "" || to == "":
		return store.Record{}, fmt.Errorf("boltstore: move: %w", errEmptyKey)
	case from == to:
		return store.Record{}, fmt.Errorf("boltstore: move: %w", errSameKey)
	case c.Expires.IsZero():
		return store.Record{}, fmt.Errorf("boltstore: move: %w", errNoExpiry)
	}
	if err := checkChange(c); err != nil {
		return store.Record{}, fmt.Errorf("boltstore: move: %w", err)
	}
	var rec store.Record
	err := s.commit(ctx, func(bk bucketSet, now time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, oh, err := bk.live(from, now)
		if err != nil {
			return err
		}
		if v := bk.recs.Get([]byte(to)); v != nil {
			if th, err := decodeHeader(v); err == nil && th.live(now) {
				return store.ErrExists
			}
		}
		fields := oh.fieldMap()
		if err := c.Check(fields); err != nil {
			return err
		}
		nh := header{created: oh.created, expires: c.Expires, version: 1, owner: oh.owner}
		if c.Owner != nil {
			nh.owner = *c.Owner
		}
		// Encode (which copies the values out of from's page) and decode
		// the result before anything is written.
		val := encodeRecord(nh, c.Apply(fields))
		if rec, err = decodeRecord(val); err != nil {
			return err
		}
		if err := bk.drop(to); err != nil {
			return err
		}
		if err := bk.drop(from); err != nil {
			return err
		}
		if err := bk.recs.Put([]byte(to), val); err != nil {
			return err
		}
		return bk.index(to, nh)
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("boltstore: move: %w", err)
	}
	return rec, nil
}
