package boltstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// purgeBatch is the most expired sessions one cleanup transaction deletes,
// so requests never wait long behind the cleanup.
const purgeBatch = 1000

// janitor deletes expired sessions every interval until s.stop is closed,
// then closes s.done. A failed purge is retried on the next tick.
func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			for {
				n, err := s.purge(now)
				if err != nil || n < purgeBatch {
					break
				}
				select {
				case <-s.stop:
					return
				default:
				}
			}
		}
	}
}

// purge deletes up to purgeBatch sessions expired at now, oldest first,
// and reports how many index entries it removed.
func (s *Store) purge(now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		var due [][]byte
		c := bk.expiry.Cursor()
		for k, v := c.First(); k != nil && len(due) < purgeBatch; k, v = c.Next() {
			if v == nil && bk.expiry.Bucket(k) != nil {
				continue // not an entry; nothing this package writes
			}
			expires, _, err := parseExpiryKey(k)
			if err == nil && now.Before(expires) {
				break
			}
			due = append(due, append([]byte(nil), k...))
		}
		for _, k := range due {
			if _, key, err := parseExpiryKey(k); err == nil {
				// The record goes only if it has expired itself: an entry
				// left over from a corrupt record must not take a newer
				// session with it.
				if err := bk.dropExpired(string(key), now); err != nil {
					return err
				}
			}
			if err := bk.expiry.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: cleanup: %w", err)
	}
	return n, nil
}

// dropExpired deletes the session under key, with its index entries, if
// it has expired at now or cannot be read.
func (bk bucketSet) dropExpired(key string, now time.Time) error {
	v := bk.recs.Get([]byte(key))
	if v == nil {
		return nil
	}
	if h, err := decodeHeader(v); err == nil && h.live(now) {
		return nil
	}
	return bk.drop(key)
}
