package session

import (
	"math"
	"sort"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// snapshot is one immutable state of a session. A new snapshot replaces
// the old one on every change; readers load the current pointer without
// locking and never see a half-made change.
//
// It is kept small (64 bytes, one allocation besides its fields): the
// cache holds one per session (see BenchmarkCacheFootprint).
type snapshot struct {
	// fields holds the keys and their encoded (msgpack) values. Never
	// modified.
	fields fieldSet
	// owner is the session's owner as the engine indexes it ("" for
	// none); see WithOwnerKey.
	owner string
	// created is when the session was first written, in Unix
	// nanoseconds (see unixNanos).
	created int64
	// expires is the expiry the engine has, in Unix nanoseconds: min(last
	// touch + idle timeout, created + lifetime) as computed when it was
	// written.
	expires int64
	// version is the engine's version of the session this snapshot
	// reflects (store.Record.Version): 1 after Create, one more per
	// Update. Remote change messages are compared with it.
	version uint64
}

// snapshotOf returns the snapshot of a record as the engine returned it.
func snapshotOf(rec store.Record) *snapshot {
	return &snapshot{
		fields:  packFields(rec.Fields),
		created: unixNanos(rec.Created),
		expires: unixNanos(rec.Expires),
		version: rec.Version,
		owner:   rec.Owner,
	}
}

// goneSnapshot is the state of a session that no longer exists
// (destroyed, renewed away or found missing): it holds no data and is
// never written again.
var goneSnapshot = &snapshot{}

// gone reports whether s is goneSnapshot.
func (s *snapshot) gone() bool { return s == goneSnapshot }

// The nanosecond range of a snapshot's times: Unix nanoseconds fit an
// int64 from 1678 to 2262; times outside it are clamped.
const (
	minUnixSeconds = math.MinInt64/int64(time.Second) + 1
	maxUnixSeconds = math.MaxInt64/int64(time.Second) - 1
)

// unixNanos returns t in Unix nanoseconds, clamped to the int64 range (a
// zero time is the distant past).
func unixNanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case s < minUnixSeconds:
		return math.MinInt64
	case s > maxUnixSeconds:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// addNanos returns t + d without overflowing.
func addNanos(t int64, d time.Duration) int64 {
	switch {
	case d > 0 && t > math.MaxInt64-int64(d):
		return math.MaxInt64
	case d < 0 && t < math.MinInt64-int64(d):
		return math.MinInt64
	}
	return t + int64(d)
}

// fieldSize is the contribution of one field to a session's size.
func fieldSize(key string, v []byte) int {
	return len(key) + len(v)
}

// recordFields returns the fields fs sets (a nil Value removes its key;
// a later field with the same key wins), as a record holds them, and
// their encoded size.
func recordFields(fs []Field) (map[string][]byte, int) {
	out := make(map[string][]byte, len(fs))
	for _, f := range fs {
		if f.Value == nil {
			delete(out, f.Key)
		} else {
			out[f.Key] = f.Value
		}
	}
	return out, sizeOf(out)
}

// sizeOf returns the encoded size of fields.
func sizeOf(fields map[string][]byte) int {
	n := 0
	for k, v := range fields {
		n += fieldSize(k, v)
	}
	return n
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
