package bench

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
)

// scsBolt is an scs.Store on a bbolt file, written here because scs's own
// bbolt store is not available to this module: one bucket, the token as
// the key, the expiry (Unix nanoseconds, 8 bytes) and scs's blob as the
// value, one bbolt transaction per call, as scs's stores do: Commit is
// one write transaction (one commit, its file syncs), Find one read
// transaction.
type scsBolt struct{ db *bolt.DB }

var scsBucket = []byte("scs")

// newSCSBolt opens a bbolt file at path for scs.
func newSCSBolt(tb testing.TB, path string) *scsBolt {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatalf("scs bbolt: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(scsBucket)
		return err
	}); err != nil {
		tb.Fatalf("scs bbolt: %v", err)
	}
	return &scsBolt{db: db}
}

// Find returns the blob of token unless it is missing or expired.
func (s *scsBolt) Find(token string) (b []byte, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(scsBucket).Get([]byte(token))
		if len(v) < 8 || time.Now().UnixNano() >= int64(binary.BigEndian.Uint64(v)) {
			return nil
		}
		b, found = append([]byte(nil), v[8:]...), true
		return nil
	})
	return b, found, err
}

// Commit stores the blob of token until expiry.
func (s *scsBolt) Commit(token string, b []byte, expiry time.Time) error {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(expiry.UnixNano()))
	v = append(v, b...)
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(scsBucket).Put([]byte(token), v) })
}

// Delete removes token.
func (s *scsBolt) Delete(token string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(scsBucket).Delete([]byte(token)) })
}

// BenchmarkBolt compares sessiongen's boltstore (group commit: the writes
// that arrive while a transaction commits share the next one) with scs on
// a bbolt file (one write transaction per commit), each on a file of its
// own: serial requests, 32 concurrent readers, and the write sweep from 1
// to 128 clients. There is no network: the cost of a write is bbolt's
// commit and its file syncs.
func BenchmarkBolt(b *testing.B) {
	dir := b.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "sessiongen.db"), boltstore.WithCleanupInterval(0))
	if err != nil {
		b.Fatalf("boltstore.Open: %v", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	alone, err := boltstore.Open(filepath.Join(dir, "alone.db"), boltstore.WithCleanupInterval(0), boltstore.WithMaxGroup(1))
	if err != nil {
		b.Fatalf("boltstore.Open: %v", err)
	}
	b.Cleanup(func() { _ = alone.Close() })
	libs := []lib{sessiongenLib(b, session.WithStore(st)), scsLib(newSCSBolt(b, filepath.Join(dir, "scs.db")))}
	aloneLib := sessiongenLib(b, session.WithStore(alone))
	aloneLib.name = "sessiongen-alone"
	runLibs(b, libs, map[string]*counter{}, true, aloneLib)
}
