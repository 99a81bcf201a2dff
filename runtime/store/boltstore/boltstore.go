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
//	    records/  key -> one value per session: times, version, owner, fields
//	    expiry/   expires || key -> empty (an index for the cleanup)
//	    owners/   len(owner) || owner || key -> empty (the owner index)
//
// A session is a single value (its format is in record.go). [Store.Update]
// reads it, applies the change, adds 1 to its version and writes it back
// inside one bbolt write transaction, which also moves its expiry and
// owner index entries. bbolt runs one write transaction at a time, so updates are
// atomic and two updates of different fields never lose each other's
// writes, and an update finding no live session writes nothing. Sessions
// are small (about 1 KB), and bbolt rewrites a whole page on any change
// anyway, so one value per session costs nothing over a value per field.
//
// # Group commit
//
// A commit costs two file syncs: bbolt writes the changed pages and then
// its meta page, with an fdatasync after each (a few milliseconds on most
// disks). So the writes (Create, Update, Delete, Move) share them: while
// one write transaction commits, the writes that arrive meanwhile wait,
// and the next transaction runs them all, one after the other in their
// order of arrival, then commits once. A write alone finds no
// transaction in flight and runs at once: there is no timer, so a single
// client sees the latency of one commit, and under load the syncs per
// write fall as the groups grow (at most [DefaultMaxGroup] writes, or
// [WithMaxGroup]). Each call still returns only once its own write is
// committed, with its own result: a write that is refused (not found,
// exists, a failed condition, too large, damaged) writes nothing and the
// others of its transaction go on; if the transaction fails as a whole
// (a bbolt error, a failed sync), each of its writes runs again in a
// transaction of its own, so only the write that fails gets the error.
// Reads (Load, Version, Owned) are read transactions and never wait for
// a write. The cleanup and Owned's removal of stale entries run in
// transactions of their own.
//
// # Conditions and Move
//
// Compare-and-set ([store.Change.Expect]) and the size limit
// ([store.Change.MaxSize]) are checked by [store.Change.Check] on the
// stored fields inside Update's write transaction, after the session is
// found live and before anything is written; a failed check returns
// [store.ErrConflict] or [store.ErrTooLarge] and the transaction is
// rolled back. No other writer can run between the check and the write.
//
// [Store.Move] is one write transaction too, so it is atomic: it reads
// the live record under from, refuses a live record under to, checks the
// change's conditions, writes the new record under to (from's Created,
// Version 1) with its index entries, and deletes from with its entries.
// A crash either loses the whole transaction or keeps all of it (bbolt's
// commit is atomic); nothing is ever left half moved. An Update or Delete
// of from runs wholly before the move (and is moved, or makes it fail
// with [store.ErrNotFound]) or wholly after it (and finds nothing).
//
// # Damaged records
//
// Records are written with a CRC-32C checksum, and every stored value is
// checked whole (checksum, format, times, version, every length against
// the bytes that remain) before anything is allocated for it, so no
// stored bytes can make a read panic or allocate more than a small
// multiple of their size. A record that fails the checks is reported by
// Load, Version, Update and Move with an error wrapping
// [store.ErrCorrupt] that names its key; they write nothing. Create and
// Move replace it like an expired record; Delete removes it with the
// index entries it can still find in it; Owned leaves it out and drops
// its owner entry; the cleanup deletes it when it meets its expiry
// entry. Index entries a damaged record no longer names are dropped by
// Owned (owner entries) and the cleanup (expiry entries).
//
// # Expiry
//
// Load and Update treat a session past its Expires as missing. A
// goroutine deletes expired sessions every minute by default
// ([WithCleanupInterval]), walking the expiry index from the oldest entry,
// so it never scans live sessions. [Store.Close] stops it. Times are kept
// to the nanosecond, for years 1 to 9999; Create, Update and Move refuse
// others with [store.ErrInvalid].
//
// # Owners
//
// [Store.Owned] lists an owner's sessions by scanning that owner's range
// of the owner index, never the sessions of others. Every write keeps the
// index in step with the records in the same transaction; the entry of an
// expired session goes with the session, deleted by the cleanup or by
// Owned when it meets it, so the index never holds more entries than the
// file holds sessions.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Names of the nested buckets under the store's bucket.
var (
	recordsBucket = []byte("records")
	expiryBucket  = []byte("expiry")
	ownersBucket  = []byte("owners")
)

// Errors for input the store refuses; all but errNoBucket wrap
// [store.ErrInvalid].
var (
	errEmptyKey      = fmt.Errorf("%w: empty key", store.ErrInvalid)
	errEmptyFieldKey = fmt.Errorf("%w: empty field key", store.ErrInvalid)
	errNoExpiry      = fmt.Errorf("%w: record has no expiry", store.ErrInvalid)
	errBadTime       = fmt.Errorf("%w: time outside years 1 to 9999", store.ErrInvalid)
	errSameKey       = fmt.Errorf("%w: the keys are equal", store.ErrInvalid)
	errNoBucket      = errors.New("bucket name is empty")
)

// Store is a [store.Store] in a bbolt file. Make one with [Open]; it is
// safe for concurrent use.
type Store struct {
	db       *bolt.DB
	group    *group.Committer[write]
	bucket   []byte
	stop     chan struct{} // closed to stop the janitor
	done     chan struct{} // closed when the janitor has stopped
	once     sync.Once
	closeErr error
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

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
	if cfg.maxGroup < 1 {
		return nil, fmt.Errorf("boltstore: open: WithMaxGroup(%d): a group holds at least one change", cfg.maxGroup)
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
	s.group = s.newCommitter(cfg.maxGroup)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{recordsBucket, expiryBucket, ownersBucket} {
			if _, err := b.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
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
// there is none or it has expired, or an error wrapping [store.ErrCorrupt]
// when it cannot be read.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("boltstore: load: %w", err)
	}
	var rec store.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		v, _, err := bk.live(key, time.Now())
		if err != nil {
			return err
		}
		rec, err = decodeRecord(v)
		return err
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("boltstore: load: %w", err)
	}
	return rec, nil
}

// Version returns the version of the live session under key, checking
// its value whole but allocating nothing for its fields, or
// [store.ErrNotFound] when there is none or it has expired.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: version: %w", err)
	}
	var version uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		_, h, err := bk.live(key, time.Now())
		version = h.version
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: version: %w", err)
	}
	return version, nil
}

// Create writes rec under key with version 1 and rec's owner. It returns
// [store.ErrExists] when a live session has the key; an expired or
// unreadable one is replaced, index entries and all. It refuses a zero
// Expires and times outside years 1 to 9999 with [store.ErrInvalid].
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	if err := checkCreate(key, rec); err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	h := header{created: rec.Created, expires: rec.Expires, version: 1, owner: rec.Owner}
	val := encodeRecord(h, rec.Fields)
	err := s.commit(ctx, func(bk bucketSet, now time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// An expired or unreadable record is replaced.
		if err := bk.vacate(key, now); err != nil {
			return err
		}
		if err := bk.recs.Put([]byte(key), val); err != nil {
			return err
		}
		return bk.index(key, h)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create: %w", err)
	}
	return nil
}

// Update applies c to the live session under key in one write
// transaction and returns its new version. In that transaction it checks
// c's conditions on the stored fields ([store.Change.Check]): it returns
// [store.ErrNotFound] when the session is missing or has expired, then
// [store.ErrConflict] or [store.ErrTooLarge], and in each case writes
// nothing. A key both set and removed ends up set.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: update: %w", err)
	}
	if key == "" {
		return 0, fmt.Errorf("boltstore: update: %w", errEmptyKey)
	}
	if err := checkChange(c); err != nil {
		return 0, fmt.Errorf("boltstore: update: %w", err)
	}
	var version uint64
	err := s.commit(ctx, func(bk bucketSet, now time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, oh, err := bk.live(key, now)
		if err != nil {
			return err
		}
		fields := oh.fieldMap()
		if err := c.Check(fields); err != nil {
			return err
		}
		nh := oh
		nh.version++
		if nh.version >= maxVersion {
			return fmt.Errorf("record %s: %w: version %d", key, store.ErrCorrupt, oh.version)
		}
		if !c.Expires.IsZero() {
			nh.expires = c.Expires
		}
		if c.Owner != nil {
			nh.owner = *c.Owner
		}
		// encodeRecord copies every value, so nothing points into the
		// page the old value lives on once Put changes it.
		if err := bk.recs.Put([]byte(key), encodeRecord(nh, c.Apply(fields))); err != nil {
			return err
		}
		version = nh.version
		return bk.reindex(key, oh, nh)
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: update: %w", err)
	}
	return version, nil
}

// Delete removes the session under key and its index entries, also when
// the session cannot be read (then the entries it no longer names are
// left to Owned and the cleanup). A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: delete: %w", err)
	}
	err := s.commit(ctx, func(bk bucketSet, _ time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return bk.drop(key)
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete: %w", err)
	}
	return nil
}

// bucketSet is the store's nested buckets in one transaction.
type bucketSet struct {
	recs, expiry, owners *bolt.Bucket
}

// live returns the stored value and header of the session under key,
// or store.ErrNotFound when there is none or it has expired at now, or an
// error wrapping store.ErrCorrupt and naming the key when it cannot be
// read.
func (bk bucketSet) live(key string, now time.Time) ([]byte, header, error) {
	v := bk.recs.Get([]byte(key))
	if v == nil {
		return nil, header{}, store.ErrNotFound
	}
	h, err := decodeHeader(v)
	if err != nil {
		return nil, header{}, fmt.Errorf("record %s: %w", key, err)
	}
	if !h.live(now) {
		return nil, header{}, store.ErrNotFound
	}
	return v, h, nil
}

// buckets returns the store's nested buckets in tx.
func (s *Store) buckets(tx *bolt.Tx) (bucketSet, error) {
	b := tx.Bucket(s.bucket)
	if b == nil {
		return bucketSet{}, fmt.Errorf("bucket %q: %w", s.bucket, bolterrors.ErrBucketNotFound)
	}
	bk := bucketSet{recs: b.Bucket(recordsBucket), expiry: b.Bucket(expiryBucket), owners: b.Bucket(ownersBucket)}
	if bk.recs == nil || bk.expiry == nil || bk.owners == nil {
		return bucketSet{}, fmt.Errorf("bucket %q: %w", s.bucket, bolterrors.ErrBucketNotFound)
	}
	return bk, nil
}

// index writes the expiry and owner index entries of session key with
// header h.
func (bk bucketSet) index(key string, h header) error {
	if err := bk.expiry.Put(expiryKey(h.expires, key), nil); err != nil {
		return err
	}
	if h.owner == "" {
		return nil
	}
	return bk.owners.Put(ownerKey(h.owner, key), nil)
}

// drop deletes the record under key, readable or not, with every index
// entry it can find for it (see indexKeys). A missing key is not an
// error.
func (bk bucketSet) drop(key string) error {
	v := bk.recs.Get([]byte(key))
	if v == nil {
		return nil
	}
	expiry, owner := indexKeys(key, v)
	if expiry != nil {
		if err := bk.expiry.Delete(expiry); err != nil {
			return err
		}
	}
	if owner != nil {
		if err := bk.owners.Delete(owner); err != nil {
			return err
		}
	}
	return bk.recs.Delete([]byte(key))
}

// vacate makes way for a new session under key: it returns
// store.ErrExists when a live session has the key, and drops an expired
// or unreadable record.
func (bk bucketSet) vacate(key string, now time.Time) error {
	v := bk.recs.Get([]byte(key))
	if v == nil {
		return nil
	}
	if h, err := decodeHeader(v); err == nil && h.live(now) {
		return store.ErrExists
	}
	return bk.drop(key)
}

// reindex moves the index entries of session key from header from to
// header to, touching only the entries that change.
func (bk bucketSet) reindex(key string, from, to header) error {
	if !to.expires.Equal(from.expires) {
		if err := bk.expiry.Delete(expiryKey(from.expires, key)); err != nil {
			return err
		}
		if err := bk.expiry.Put(expiryKey(to.expires, key), nil); err != nil {
			return err
		}
	}
	if to.owner == from.owner {
		return nil
	}
	if from.owner != "" {
		if err := bk.owners.Delete(ownerKey(from.owner, key)); err != nil {
			return err
		}
	}
	if to.owner != "" {
		return bk.owners.Put(ownerKey(to.owner, key), nil)
	}
	return nil
}

// checkCreate refuses a record Create cannot store.
func checkCreate(key string, rec store.Record) error {
	if key == "" {
		return errEmptyKey
	}
	if rec.Expires.IsZero() {
		return errNoExpiry
	}
	if !validTime(rec.Expires) || !validTime(rec.Created) {
		return errBadTime
	}
	if _, ok := rec.Fields[""]; ok {
		return errEmptyFieldKey
	}
	return nil
}

// checkChange refuses a change Update and Move cannot store.
func checkChange(c store.Change) error {
	if _, ok := c.Set[""]; ok {
		return errEmptyFieldKey
	}
	if !c.Expires.IsZero() && !validTime(c.Expires) {
		return errBadTime
	}
	return nil
}
