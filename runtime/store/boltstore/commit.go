package boltstore

import (
	"context"
	"errors"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
	bolt "go.etcd.io/bbolt"
)

// write is one change (of Create, Update, Delete or Move) run inside a
// write transaction that may hold the changes of other callers too. It
// returns nil, or a refusal (see refused) before it writes anything, or
// another error, which rolls the whole transaction back.
type write func(bk bucketSet, now time.Time) error

// newCommitter returns the group committer of s's writes.
func (s *Store) newCommitter(size int) *group.Committer[write] {
	return group.New(size, s.send)
}

// commit runs w in the next write transaction, with the writes of the
// callers that arrive while one is in flight, and returns w's result once
// that transaction is committed (synced to the file) or rolled back.
func (s *Store) commit(ctx context.Context, w write) error {
	return s.group.Do(ctx, w)
}

// send runs ws in one write transaction, so one commit and one file sync
// for all of them. A write refused (its session missing, its condition
// failed...) gets its refusal and the others go on: it wrote nothing. When
// the transaction fails as a whole (a bbolt error, a failed sync), each
// write runs again alone, so that only the one that fails gets the error.
func (s *Store) send(ctx context.Context, ws []write) []error {
	errs := make([]error, len(ws))
	err := s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		now := time.Now()
		for i, w := range ws {
			if err := w(bk, now); err != nil {
				if !refused(err) {
					return err
				}
				errs[i] = err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return errs
	case len(ws) == 1:
		errs[0] = err
		return errs
	}
	for i := range ws {
		errs[i] = s.send(ctx, ws[i:i+1])[0]
	}
	return errs
}

// refused reports whether err is a write's own refusal, returned before
// it wrote anything: the transaction goes on with the other writes.
func refused(err error) bool {
	for _, target := range []error{
		store.ErrNotFound, store.ErrExists, store.ErrConflict, store.ErrTooLarge,
		store.ErrCorrupt, store.ErrInvalid, context.Canceled, context.DeadlineExceeded,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
