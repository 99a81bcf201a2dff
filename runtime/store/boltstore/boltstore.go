// Package boltstore is a session engine in a local file, on bbolt
// (go.etcd.io/bbolt). Sessions survive restarts of the process; one file
// serves one process at a time (bbolt locks it).
//
// # Layout
//
// Everything lives under one top-level bucket, "sessions" unless
// [WithBucket] names another, so the file can hold other data too:
//
//	sessions/
//	    records/  key -> one value per session: times and all fields
//	    expiry/   expires || key -> empty (an index for the cleanup)
//
// A session is a single value (its format is in record.go). [Store.Update]
// reads it, applies the change and writes it back inside one bbolt write
// transaction. bbolt runs one write transaction at a time, so updates are
// atomic and two updates of different fields never lose each other's
// writes, and an update finding no live session writes nothing. Sessions
// are small (about 1 KB), and bbolt rewrites a whole page on any change
// anyway, so one value per session costs nothing over a value per field.
//
// # Expiry
//
// Load and Update treat a session past its Expires as missing. A
// goroutine deletes expired sessions every minute by default
// ([WithCleanupInterval]), walking the expiry index from the oldest entry,
// so it never scans live sessions. [Store.Close] stops it.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Names of the nested buckets under the store's bucket.
var (
	recordsBucket = []byte("records")
	expiryBucket  = []byte("expiry")
)

// Errors for input the store refuses.
var (
	errEmptyKey      = errors.New("empty key")
	errEmptyFieldKey = errors.New("empty field key")
	errNoExpiry      = errors.New("record has no expiry")
	errNoBucket      = errors.New("bucket name is empty")
)

// Store is a [store.Store] in a bbolt file. Make one with [Open]; it is
// safe for concurrent use.
type Store struct {
	db       *bolt.DB
	bucket   []byte
	stop     chan struct{} // closed to stop the janitor
	done     chan struct{} // closed when the janitor has stopped
	once     sync.Once
	closeErr error
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the bbolt file at path and returns a Store on
// it. When another Store or process holds the file, Open gives up after
// the open timeout (1 second unless [WithOpenTimeout] says otherwise) with
// an error saying the file is locked. Call [Store.Close] when done.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.bucket == "" {
		return nil, fmt.Errorf("boltstore: open: %w", errNoBucket)
	}
	timeout := cfg.openTimeout
	if timeout < 0 {
		timeout = 0
	}
	db, err := bolt.Open(path, cfg.fileMode, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: file is locked by another process or Store (waited %s): %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db, bucket: []byte(cfg.bucket), stop: make(chan struct{}), done: make(chan struct{})}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists(recordsBucket); err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(expiryBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: bucket %q: %w", path, cfg.bucket, err)
	}
	if cfg.cleanupInterval > 0 {
		go s.janitor(cfg.cleanupInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background cleanup and closes the file. Calls after the
// first return the first one's result.
func (s *Store) Close() error {
	s.once.Do(func() {
		select {
		case <-s.done: // no janitor was started
		default:
			close(s.stop)
			<-s.done
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close: %w", err)
		}
	})
	return s.closeErr
}

// Load returns the session stored under key, or [store.ErrNotFound] when
// there is none or it has expired.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("boltstore: load: %w", err)
	}
	var rec store.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		recs, _, err := s.buckets(tx)
		if err != nil {
			return err
		}
		v := recs.Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		_, expires, err := decodeHeader(v)
		if err != nil {
			return err
		}
		if !time.Now().Before(expires) {
			return store.ErrNotFound
		}
		rec, err = decodeRecord(v)
		return err
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("boltstore: load: %w", err)
	}
	return rec, nil
}

// Create writes rec under key. It returns [store.ErrExists] when a live
// session has the key; an expired one is replaced.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	if err := checkCreate(key, rec); err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	val := encodeRecord(rec.Fields, rec.Created, rec.Expires)
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, idx, err := s.buckets(tx)
		if err != nil {
			return err
		}
		if old := recs.Get([]byte(key)); old != nil {
			_, expires, err := decodeHeader(old)
			if err == nil && time.Now().Before(expires) {
				return store.ErrExists
			}
			if err == nil {
				if err := idx.Delete(expiryKey(expires, key)); err != nil {
					return err
				}
			}
		}
		if err := recs.Put([]byte(key), val); err != nil {
			return err
		}
		return idx.Put(expiryKey(rec.Expires, key), nil)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	return nil
}

// Update applies c to the live session under key in one transaction. It
// returns [store.ErrNotFound] and writes nothing when the session is
// missing or has expired. A key both set and removed ends up set.
func (s *Store) Update(ctx context.Context, key string, c store.Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: update: %w", err)
	}
	if _, ok := c.Set[""]; ok {
		return fmt.Errorf("boltstore: update: %w", errEmptyFieldKey)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, idx, err := s.buckets(tx)
		if err != nil {
			return err
		}
		old := recs.Get([]byte(key))
		if old == nil {
			return store.ErrNotFound
		}
		created, expires, err := decodeHeader(old)
		if err != nil {
			return err
		}
		if !time.Now().Before(expires) {
			return store.ErrNotFound
		}
		fields := make(map[string][]byte)
		err = rangeFields(old, func(k, v []byte) { fields[string(k)] = v })
		if err != nil {
			return err
		}
		for _, k := range c.Remove {
			delete(fields, k)
		}
		for k, v := range c.Set {
			fields[k] = v
		}
		newExpires := expires
		if !c.Expires.IsZero() {
			newExpires = c.Expires
		}
		// encodeRecord copies every value, so nothing points into the
		// page old lives on once Put changes it.
		if err := recs.Put([]byte(key), encodeRecord(fields, created, newExpires)); err != nil {
			return err
		}
		if newExpires.Equal(expires) {
			return nil
		}
		if err := idx.Delete(expiryKey(expires, key)); err != nil {
			return err
		}
		return idx.Put(expiryKey(newExpires, key), nil)
	})
	if err != nil {
		return fmt.Errorf("boltstore: update: %w", err)
	}
	return nil
}

// Delete removes the session under key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: delete: %w", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, idx, err := s.buckets(tx)
		if err != nil {
			return err
		}
		old := recs.Get([]byte(key))
		if old == nil {
			return nil
		}
		// A corrupt record loses its index entry to the cleanup later.
		if _, expires, err := decodeHeader(old); err == nil {
			if err := idx.Delete(expiryKey(expires, key)); err != nil {
				return err
			}
		}
		return recs.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete: %w", err)
	}
	return nil
}

// buckets returns the records and expiry buckets in tx.
func (s *Store) buckets(tx *bolt.Tx) (recs, idx *bolt.Bucket, err error) {
	b := tx.Bucket(s.bucket)
	if b == nil {
		return nil, nil, fmt.Errorf("bucket %q: %w", s.bucket, bolterrors.ErrBucketNotFound)
	}
	recs, idx = b.Bucket(recordsBucket), b.Bucket(expiryBucket)
	if recs == nil || idx == nil {
		return nil, nil, fmt.Errorf("bucket %q: %w", s.bucket, bolterrors.ErrBucketNotFound)
	}
	return recs, idx, nil
}

// checkCreate refuses a record Create cannot store.
func checkCreate(key string, rec store.Record) error {
	if key == "" {
		return errEmptyKey
	}
	if rec.Expires.IsZero() {
		return errNoExpiry
	}
	if _, ok := rec.Fields[""]; ok {
		return errEmptyFieldKey
	}
	return nil
}
