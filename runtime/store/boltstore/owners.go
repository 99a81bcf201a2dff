package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	bolt "go.etcd.io/bbolt"
)

// Owned returns the live sessions of owner, in no particular order. It
// reads owner's range of the owner index (and each listed session's
// record), never another owner's entries nor the sessions without an
// owner. Entries it finds stale (a missing or expired session, one of
// another owner, one it cannot read, an entry naming no key) are deleted
// afterwards in one write transaction, expired sessions with them; an
// unreadable session is left out of the list but kept for Load to report
// and Delete to remove. An owner with no sessions, and the empty owner,
// give an empty list.
func (s *Store) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: owned: %w", err)
	}
	out := []store.Owned{}
	if owner == "" {
		return out, nil
	}
	prefix := ownerPrefix(owner)
	var stale []string
	now := time.Now()
	err := s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		c := bk.owners.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if v == nil && bk.owners.Bucket(k) != nil {
				continue // not an entry; nothing this package writes
			}
			key := string(k[len(prefix):])
			h, ok := bk.ownedBy(key, owner, now)
			if !ok {
				stale = append(stale, key)
				continue
			}
			out = append(out, store.Owned{Key: key, Created: h.created, Expires: h.expires, Version: h.version})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: owned: %w", err)
	}
	if len(stale) > 0 {
		if err := s.dropStale(ctx, owner, stale, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ownedBy returns the header of the session under key when it is a live,
// readable session of owner at now.
func (bk bucketSet) ownedBy(key, owner string, now time.Time) (header, bool) {
	v := bk.recs.Get([]byte(key))
	if v == nil {
		return header{}, false
	}
	h, err := decodeHeader(v)
	if err != nil || h.owner != owner || !h.live(now) {
		return header{}, false
	}
	return h, true
}

// dropStale deletes owner's index entries for keys, unless a session
// became owner's live session meanwhile, and the expired sessions among
// them with all their index entries.
func (s *Store) dropStale(ctx context.Context, owner string, keys []string, now time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for _, key := range keys {
			if _, ok := bk.ownedBy(key, owner, now); ok {
				continue
			}
			if v := bk.recs.Get([]byte(key)); v != nil {
				if h, err := decodeHeader(v); err == nil && !h.live(now) {
					if err := bk.drop(key); err != nil {
						return err
					}
				}
			}
			if err := bk.owners.Delete(ownerKey(owner, key)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: owned: cleanup: %w", err)
	}
	return nil
}
