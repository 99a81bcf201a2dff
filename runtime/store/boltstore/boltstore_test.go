package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// openTest opens a Store on path (a new temp file when empty) and closes
// it when the test ends.
func openTest(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sessions.db")
	}
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// record returns a record with fields, created now and expiring after ttl.
func record(ttl time.Duration, kv ...string) store.Record {
	f := make(map[string][]byte)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = []byte(kv[i+1])
	}
	now := time.Now()
	return store.Record{Fields: f, Created: now, Expires: now.Add(ttl)}
}

// counts returns the number of records and expiry index entries in s.
func counts(t *testing.T, s *Store) (records, index int) {
	t.Helper()
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		records, index = bk.recs.Stats().KeyN, bk.expiry.Stats().KeyN
		return nil
	}))
	return records, index
}

// ownerEntries returns the number of owner index entries of owner in s,
// stale ones included.
func ownerEntries(t *testing.T, s *Store, owner string) int {
	t.Helper()
	n := 0
	prefix := ownerPrefix(owner)
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		c := bk.owners.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	}))
	return n
}

// requireConsistent fails unless the indexes of s match its records:
// every record has its expiry entry and, when it has an owner, its owner
// entry, and there are no other entries.
func requireConsistent(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		owned := 0
		err = bk.recs.ForEach(func(k, v []byte) error {
			h, err := decodeHeader(v)
			require.NoError(t, err)
			require.NotNil(t, bk.expiry.Get(expiryKey(h.expires, string(k))), "expiry entry missing")
			if h.owner != "" {
				owned++
				require.NotNil(t, bk.owners.Get(ownerKey(h.owner, string(k))), "owner entry missing")
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, bk.recs.Stats().KeyN, bk.expiry.Stats().KeyN, "one expiry entry per record")
		require.Equal(t, owned, bk.owners.Stats().KeyN, "one owner entry per owned record")
		return nil
	}))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, "") })
}

// TestConformanceShared runs the suites with every subtest on one file,
// then checks the indexes still match the records.
func TestConformanceShared(t *testing.T) {
	s := openTest(t, "")
	storetest.Run(t, func(*testing.T) store.Store { return s })
	storetest.RunVersioner(t, func(*testing.T) store.Store { return s })
	storetest.RunOwnerIndex(t, func(*testing.T) store.Store { return s })
	recs, _ := counts(t, s)
	require.Positive(t, recs)
	requireConsistent(t, s)
}

func TestTwoNodes(t *testing.T) {
	s := openTest(t, "")
	storetest.TwoNodes(t, s, s)
}

func TestVersioner(t *testing.T) {
	storetest.RunVersioner(t, func(t *testing.T) store.Store { return openTest(t, "") })
}

func TestOwnerIndex(t *testing.T) {
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store { return openTest(t, "") })
}

// TestIndexBounded: Owned deletes the entries (and sessions) it finds
// expired, with the cleanup off.
func TestIndexBounded(t *testing.T) {
	s := openTest(t, "", WithCleanupInterval(0))
	storetest.IndexBounded(t, s, func(owner string) int { return ownerEntries(t, s, owner) })
	requireConsistent(t, s)
}

// TestIndexBoundedByCleanup: the cleanup alone deletes the owner entries
// of the sessions it purges.
func TestIndexBoundedByCleanup(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	var lastShort time.Time
	for range 10 {
		rec := record(time.Millisecond)
		rec.Owner = "u"
		require.NoError(t, s.Create(ctx, storetest.NewKey(t), rec))
		lastShort = rec.Expires
	}
	long := record(time.Hour)
	long.Owner = "u"
	longKey := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, longKey, long))
	require.Equal(t, 11, ownerEntries(t, s, "u"))
	time.Sleep(time.Until(lastShort))

	n, err := s.purge(time.Now())
	require.NoError(t, err)
	require.Equal(t, 10, n)
	require.Equal(t, 1, ownerEntries(t, s, "u"))
	requireConsistent(t, s)
	owned, err := s.Owned(ctx, "u")
	require.NoError(t, err)
	require.Len(t, owned, 1)
	require.Equal(t, longKey, owned[0].Key)
}

// TestOwnerPrefixes: owners that are prefixes of each other, or whose
// length prefix could be mistaken for text, keep separate entries.
func TestOwnerPrefixes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	owners := []string{"a", "ab", "a\x00", "\x01a", "\x02ab", string(bytes.Repeat([]byte("x"), 127)), string(bytes.Repeat([]byte("x"), 128))}
	keys := map[string]string{}
	for _, o := range owners {
		rec := record(time.Hour)
		rec.Owner = o
		keys[o] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[o], rec))
	}
	for _, o := range owners {
		owned, err := s.Owned(ctx, o)
		require.NoError(t, err)
		require.Len(t, owned, 1, "owner %q", o)
		require.Equal(t, keys[o], owned[0].Key)
		require.Equal(t, 1, ownerEntries(t, s, o))
	}
}

// TestOwnerTooLong: an owner too long for a bbolt key is refused and
// writes nothing.
func TestOwnerTooLong(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	key := storetest.NewKey(t)
	rec := record(time.Hour)
	rec.Owner = string(bytes.Repeat([]byte("o"), bolt.MaxKeySize))
	require.ErrorIs(t, s.Create(ctx, key, rec), bolterrors.ErrKeyTooLarge)
	_, err := s.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.Create(ctx, key, record(time.Hour)))
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": {1}}, Owner: &rec.Owner})
	require.ErrorIs(t, err, bolterrors.ErrKeyTooLarge)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Empty(t, got.Fields, "a failed Update changes nothing")
	require.Equal(t, uint64(1), got.Version)
	requireConsistent(t, s)
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	key := storetest.NewKey(t)
	want := store.Record{
		Fields:  map[string][]byte{"user": {0x00, 0xff}, "ключ": []byte("значение")},
		Created: time.UnixMilli(time.Now().UnixMilli()),
		Expires: time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()),
		Owner:   "alice",
	}

	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Create(ctx, key, want))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, want.Fields, got.Fields)
	require.True(t, want.Created.Equal(got.Created))
	require.True(t, want.Expires.Equal(got.Expires))
	require.Equal(t, uint64(1), got.Version)
	require.Equal(t, "alice", got.Owner)
	require.ErrorIs(t, s.Create(ctx, key, want), store.ErrExists)
	v, err := s.Update(ctx, key, store.Change{Remove: []string{"user"}})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	got, err = s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"ключ": []byte("значение")}, got.Fields)
	require.NoError(t, s.Close())

	// Version, owner and owner index survive a second reopen.
	s = openTest(t, path)
	v, err = s.Version(ctx, key)
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	owned, err := s.Owned(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, owned, 1)
	require.Equal(t, key, owned[0].Key)
	require.Equal(t, uint64(2), owned[0].Version)
}

// TestConcurrentWritersSurviveReopen: 100 goroutines each writing one
// field all survive, as seen through a new Open of the file.
func TestConcurrentWritersSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	key := storetest.NewKey(t)
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Create(ctx, key, record(time.Hour)))
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			k := fmt.Sprintf("k%03d", i)
			_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{k: []byte(k)}})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.NoError(t, s.Close())

	s = openTest(t, path)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Len(t, got.Fields, 100)
	require.Equal(t, uint64(101), got.Version)
	for i := range 100 {
		k := fmt.Sprintf("k%03d", i)
		require.Equal(t, k, string(got.Fields[k]))
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	first, err := Open(path)
	require.NoError(t, err)

	start := time.Now()
	_, err = Open(path, WithOpenTimeout(100*time.Millisecond))
	require.Error(t, err)
	require.ErrorIs(t, err, bolterrors.ErrTimeout)
	require.Contains(t, err.Error(), "boltstore: open")
	require.Contains(t, err.Error(), "locked")
	require.Less(t, time.Since(start), 5*time.Second, "Open gave up in time")

	require.NoError(t, first.Close())
	second := openTest(t, path, WithOpenTimeout(100*time.Millisecond))
	require.NotNil(t, second)
}

func TestOpenBadFile(t *testing.T) {
	dir := t.TempDir()
	t.Run("Garbage", func(t *testing.T) {
		path := filepath.Join(dir, "garbage.db")
		require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("not a bolt file "), 1024), 0o600))
		s, err := Open(path)
		require.Error(t, err)
		require.Nil(t, s)
		require.Contains(t, err.Error(), "boltstore: open")
	})
	t.Run("Directory", func(t *testing.T) {
		s, err := Open(dir)
		require.Error(t, err)
		require.Nil(t, s)
	})
	t.Run("MissingDirectory", func(t *testing.T) {
		s, err := Open(filepath.Join(dir, "no", "such", "dir", "s.db"))
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Nil(t, s)
	})
	t.Run("EmptyBucket", func(t *testing.T) {
		s, err := Open(filepath.Join(dir, "s.db"), WithBucket(""))
		require.ErrorIs(t, err, errNoBucket)
		require.Nil(t, s)
	})
	t.Run("BucketNameUsedByValue", func(t *testing.T) {
		path := filepath.Join(dir, "taken.db")
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("app"))
			if err != nil {
				return err
			}
			return b.Put([]byte("records"), []byte("not a bucket"))
		}))
		require.NoError(t, db.Close())
		s, err := Open(path, WithBucket("app"))
		require.ErrorIs(t, err, bolterrors.ErrIncompatibleValue)
		require.Nil(t, s)
		// The failed Open released the file.
		s = openTest(t, path, WithOpenTimeout(100*time.Millisecond))
		require.NotNil(t, s)
	})
}

func TestBucketsAreSeparate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	key := storetest.NewKey(t)

	a, err := Open(path, WithBucket("a"))
	require.NoError(t, err)
	require.NoError(t, a.Create(ctx, key, record(time.Hour, "in", "a")))
	require.NoError(t, a.Close())

	b, err := Open(path, WithBucket("b"))
	require.NoError(t, err)
	_, err = b.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, b.Create(ctx, key, record(time.Hour, "in", "b")))
	require.NoError(t, b.Close())

	a = openTest(t, path, WithBucket("a"))
	got, err := a.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "a", string(got.Fields["in"]))
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	openTest(t, filepath.Join(dir, "default.db"))
	openTest(t, filepath.Join(dir, "group.db"), WithFileMode(0o640))
	for name, want := range map[string]os.FileMode{"default.db": 0o600, "group.db": 0o640} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, want, fi.Mode().Perm(), name)
	}
}

func TestRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	t.Run("EmptyKey", func(t *testing.T) {
		err := s.Create(ctx, "", record(time.Hour))
		require.ErrorIs(t, err, errEmptyKey)
		require.ErrorIs(t, err, store.ErrInvalid)
		require.EqualError(t, err, "boltstore: create: invalid store request: empty key")
		_, err = s.Update(ctx, "", store.Change{})
		require.ErrorIs(t, err, store.ErrInvalid)
	})
	t.Run("ZeroExpiry", func(t *testing.T) {
		key := storetest.NewKey(t)
		rec := record(time.Hour)
		rec.Expires = time.Time{}
		require.ErrorIs(t, s.Create(ctx, key, rec), errNoExpiry)
		_, err := s.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("EmptyFieldKey", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.ErrorIs(t, s.Create(ctx, key, record(time.Hour, "", "x")), errEmptyFieldKey)
		require.NoError(t, s.Create(ctx, key, record(time.Hour, "a", "1")))
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"": {1}}, Remove: []string{"a"}})
		require.ErrorIs(t, err, errEmptyFieldKey)
		require.ErrorIs(t, err, store.ErrInvalid)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		require.Equal(t, "1", string(got.Fields["a"]), "a refused Update changes nothing")
	})
	t.Run("TimeOutOfRange", func(t *testing.T) {
		far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		early := time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)
		key := storetest.NewKey(t)
		for _, rec := range []store.Record{
			{Created: time.Now(), Expires: far},
			{Created: far, Expires: time.Now().Add(time.Hour)},
			{Created: early, Expires: time.Now().Add(time.Hour)},
		} {
			require.ErrorIs(t, s.Create(ctx, key, rec), errBadTime)
		}
		_, err := s.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)

		// The zero time is in range (as Created), and the last instant.
		last := far.Add(-time.Nanosecond)
		require.NoError(t, s.Create(ctx, key, store.Record{Expires: last}))
		_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": {1}}, Expires: far})
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = s.Move(ctx, key, storetest.NewKey(t), store.Change{Expires: far})
		require.ErrorIs(t, err, store.ErrInvalid)
		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		require.True(t, got.Created.IsZero())
		require.True(t, last.Equal(got.Expires))
		require.Empty(t, got.Fields, "a refused Update changes nothing")
	})
	t.Run("KeyTooLarge", func(t *testing.T) {
		key := string(bytes.Repeat([]byte("k"), bolt.MaxKeySize+1))
		err := s.Create(ctx, key, record(time.Hour))
		require.ErrorIs(t, err, bolterrors.ErrKeyTooLarge)
		_, err = s.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	key := storetest.NewKey(t)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return bk.recs.Put([]byte(key), []byte{recordFormat, 1, 2, 3})
	}))

	_, err := s.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "boltstore: load: record "+key+": corrupt session record")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": {1}}})
	require.ErrorIs(t, err, store.ErrCorrupt)
	_, err = s.Version(ctx, key)
	require.ErrorIs(t, err, store.ErrCorrupt)

	// A new session may take the key; it replaces the unreadable value.
	require.NoError(t, s.Create(ctx, key, record(time.Hour, "a", "1")))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "1", string(got.Fields["a"]))
	require.NoError(t, s.Delete(ctx, key))
	recs, idx := counts(t, s)
	require.Zero(t, recs)
	require.Zero(t, idx)
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")

	key := storetest.NewKey(t)
	_, err = s.Load(ctx, key)
	require.ErrorIs(t, err, bolterrors.ErrDatabaseNotOpen)
	require.ErrorContains(t, err, "boltstore: load:")
	require.ErrorIs(t, s.Create(ctx, key, record(time.Hour)), bolterrors.ErrDatabaseNotOpen)
	_, err = s.Update(ctx, key, store.Change{})
	require.ErrorIs(t, err, bolterrors.ErrDatabaseNotOpen)
	_, err = s.Version(ctx, key)
	require.ErrorIs(t, err, bolterrors.ErrDatabaseNotOpen)
	_, err = s.Owned(ctx, "u")
	require.ErrorIs(t, err, bolterrors.ErrDatabaseNotOpen)
	require.ErrorIs(t, s.Delete(ctx, key), bolterrors.ErrDatabaseNotOpen)
}

// TestPurge: the cleanup deletes expired sessions a batch at a time,
// oldest first, and no live one. The purges run at the recorded time now;
// the live sessions expire an hour or more after it, so the Loads at the
// end see them live however slow the machine.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	now := time.Now()
	// Write many sessions in one transaction: half expired, half live.
	const n = purgeBatch + 500
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for i := range 2 * n {
			key := fmt.Sprintf("key-%05d", i)
			exp := now.Add(time.Duration(i-n) * time.Second) // i < n: expired
			if i >= n {
				exp = exp.Add(time.Hour)
			}
			h := header{created: now, expires: exp, version: 1, owner: fmt.Sprintf("owner-%d", i%3)}
			if err := bk.recs.Put([]byte(key), encodeRecord(h, nil)); err != nil {
				return err
			}
			if err := bk.index(key, h); err != nil {
				return err
			}
		}
		return nil
	}))

	got, err := s.purge(now)
	require.NoError(t, err)
	require.Equal(t, purgeBatch, got, "one purge deletes at most a batch")
	got, err = s.purge(now)
	require.NoError(t, err)
	require.Equal(t, n-purgeBatch, got)
	got, err = s.purge(now)
	require.NoError(t, err)
	require.Zero(t, got)

	recs, idx := counts(t, s)
	require.Equal(t, n, recs)
	require.Equal(t, n, idx)
	requireConsistent(t, s)
	_, err = s.Load(ctx, fmt.Sprintf("key-%05d", n))
	require.NoError(t, err)
	_, err = s.Load(ctx, fmt.Sprintf("key-%05d", n-1))
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestPurgeKeepsNewerSession: a stale index entry (left by a corrupt
// record) never deletes the live session now under its key.
func TestPurgeKeepsNewerSession(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, record(time.Hour, "a", "1")))
	past := time.Now().Add(-time.Minute)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return bk.expiry.Put(expiryKey(past, key), nil)
	}))
	n, err := s.purge(time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Load(ctx, key)
	require.NoError(t, err)
	recs, idx := counts(t, s)
	require.Equal(t, 1, recs)
	require.Equal(t, 1, idx)
}

func TestJanitorPurges(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(20*time.Millisecond))
	short := record(30 * time.Millisecond)
	require.NoError(t, s.Create(ctx, "short", short))
	require.NoError(t, s.Create(ctx, "long", record(time.Hour)))
	// The janitor ticks every 20 ms; give it many ticks after the expiry,
	// counted from the recorded expiry, not from now.
	require.Eventually(t, func() bool {
		recs, _ := counts(t, s)
		return recs == 1
	}, time.Until(short.Expires)+10*time.Second, 10*time.Millisecond)
	_, err := s.Load(ctx, "long")
	require.NoError(t, err)
	_, idx := counts(t, s)
	require.Equal(t, 1, idx)
}

func TestIndexFollowsExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, record(time.Hour)))
	for _, d := range []time.Duration{2 * time.Hour, time.Minute, 0} {
		c := store.Change{Set: map[string][]byte{"a": {1}}}
		if d != 0 {
			c.Expires = time.Now().Add(d)
		}
		_, err := s.Update(ctx, key, c)
		require.NoError(t, err)
		rec, err := s.Load(ctx, key)
		require.NoError(t, err)
		var entries [][]byte
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			bk, err := s.buckets(tx)
			if err != nil {
				return err
			}
			return bk.expiry.ForEach(func(k, _ []byte) error {
				entries = append(entries, append([]byte(nil), k...))
				return nil
			})
		}))
		require.Equal(t, [][]byte{expiryKey(rec.Expires, key)}, entries)
	}
}

// TestLegacyRecord: a session written before versions and owners (record
// format 1) loads as version 1 without an owner, and the first Update
// rewrites it in the current format as version 2.
func TestLegacyRecord(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	key := storetest.NewKey(t)
	now := time.Now()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		if err := bk.recs.Put([]byte(key), encodeV1(map[string][]byte{"a": []byte("1")}, now, now.Add(time.Hour))); err != nil {
			return err
		}
		return bk.expiry.Put(expiryKey(now.Add(time.Hour), key), nil)
	}))

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, uint64(1), got.Version)
	require.Empty(t, got.Owner)
	require.Equal(t, "1", string(got.Fields["a"]))
	v, err := s.Version(ctx, key)
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)

	owner := "alice"
	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}, Owner: &owner})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		require.Equal(t, byte(recordFormat), bk.recs.Get([]byte(key))[0], "rewritten in the current format")
		return nil
	}))
	got, err = s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, got.Fields)
	require.Equal(t, uint64(2), got.Version)
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	requireConsistent(t, s)
}

// TestOwnedDropsStale: entries Owned finds stale (expired session, a
// missing or unreadable record, a record of another owner) are deleted,
// expired sessions with them, and a live session is never touched.
func TestOwnedDropsStale(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	live := record(time.Hour)
	live.Owner = "u"
	liveKey := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, liveKey, live))
	expired := record(time.Millisecond)
	expired.Owner = "u"
	expiredKey := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, expiredKey, expired))
	otherKey := storetest.NewKey(t)
	other := record(time.Hour)
	other.Owner = "v"
	require.NoError(t, s.Create(ctx, otherKey, other))
	corruptKey := storetest.NewKey(t)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		// Entries no write would leave: a missing record, another
		// owner's record and an unreadable one.
		for _, k := range []string{"missing", otherKey, corruptKey} {
			if err := bk.owners.Put(ownerKey("u", k), nil); err != nil {
				return err
			}
		}
		return bk.recs.Put([]byte(corruptKey), []byte{recordFormat, 1})
	}))
	time.Sleep(time.Until(expired.Expires))
	require.Equal(t, 5, ownerEntries(t, s, "u"))

	owned, err := s.Owned(ctx, "u")
	require.NoError(t, err)
	require.Len(t, owned, 1)
	require.Equal(t, liveKey, owned[0].Key)
	require.Equal(t, 1, ownerEntries(t, s, "u"))
	require.Equal(t, 1, ownerEntries(t, s, "v"), "another owner's entry is not touched")
	recs, idx := counts(t, s)
	require.Equal(t, 3, recs, "the expired session is gone; live, other and corrupt remain")
	require.Equal(t, 2, idx)
	_, err = s.Load(ctx, otherKey)
	require.NoError(t, err)
}

// TestLegacyV2Record: a session written in format 2 (before checksums)
// loads as written, and an Update rewrites it in the current format.
func TestLegacyV2Record(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	key := storetest.NewKey(t)
	rec := record(time.Hour, "a", "1")
	rec.Owner = "alice"
	require.NoError(t, s.Create(ctx, key, rec))
	putRaw(t, s, key, asV2(unsealed(rawRecord(t, s, key))))

	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "1", string(got.Fields["a"]))
	require.Equal(t, "alice", got.Owner)
	require.True(t, rec.Expires.Equal(got.Expires))
	v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	require.Equal(t, byte(recordFormat), rawRecord(t, s, key)[0], "rewritten in the current format")
	requireConsistent(t, s)
}

// TestMoveOverUnreadable: Move replaces an unreadable record under to,
// with the index entries Delete would remove, and leaves the indexes
// consistent.
func TestMoveOverUnreadable(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	from, to := storetest.NewKey(t), storetest.NewKey(t)
	rec := record(time.Hour, "a", "1")
	require.NoError(t, s.Create(ctx, from, rec))
	old := record(time.Hour, "old", "x")
	old.Owner = "bob"
	require.NoError(t, s.Create(ctx, to, old))
	damaged := rawRecord(t, s, to)
	damaged[len(damaged)-1] ^= 1
	putRaw(t, s, to, damaged)

	got, err := s.Move(ctx, from, to, store.Change{Set: map[string][]byte{"b": []byte("2")}, Expires: rec.Expires})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, got.Fields)
	require.Equal(t, uint64(1), got.Version)
	loaded, err := s.Load(ctx, to)
	require.NoError(t, err)
	require.Equal(t, got.Fields, loaded.Fields)
	_, err = s.Load(ctx, from)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Zero(t, ownerEntries(t, s, "bob"))
	requireConsistent(t, s)
}
