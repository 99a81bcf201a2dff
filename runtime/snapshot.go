package session

import (
	"maps"
	"sort"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// snapshot is one immutable state of a session. A new snapshot replaces
// the old one on every change; readers load the current pointer without
// locking and never see a half-made change.
type snapshot struct {
	// fields maps keys to encoded (msgpack) values. Never modified.
	fields map[string][]byte
	// size is the encoded size: sum of len(key)+len(value).
	size int
	// created is when the session was first written.
	created time.Time
	// expires is the expiry the engine has: min(last touch + idle
	// timeout, created + lifetime) as computed when it was written.
	expires time.Time
	// version is the engine's version of the session this snapshot
	// reflects (store.Record.Version): 1 after Create, one more per
	// Update. Remote change messages are compared with it.
	version uint64
	// owner is the session's owner as the engine indexes it ("" for
	// none); see WithOwnerKey.
	owner string
	// gone marks a session that was destroyed, renewed away or found
	// missing: it holds no data and is never written again.
	gone bool
}

// snapshotOf returns the snapshot of a record as the engine returned it.
func snapshotOf(rec store.Record) *snapshot {
	fields := rec.Fields
	if fields == nil {
		fields = map[string][]byte{}
	}
	return &snapshot{
		fields:  fields,
		size:    sizeOf(fields),
		created: rec.Created,
		expires: rec.Expires,
		version: rec.Version,
		owner:   rec.Owner,
	}
}

// goneSnapshot is the state of a session that no longer exists.
var goneSnapshot = &snapshot{gone: true}

// fieldSize is the contribution of one field to a session's size.
func fieldSize(key string, v []byte) int {
	return len(key) + len(v)
}

// sizeOf returns the encoded size of fields.
func sizeOf(fields map[string][]byte) int {
	n := 0
	for k, v := range fields {
		n += fieldSize(k, v)
	}
	return n
}

// applyFields returns a copy of base with fs applied (a nil Value
// removes its key), and the copy's size.
func applyFields(base map[string][]byte, fs []Field) (map[string][]byte, int) {
	var out map[string][]byte
	if len(base) == 0 {
		out = make(map[string][]byte, len(fs))
	} else {
		out = maps.Clone(base)
	}
	for _, f := range fs {
		if f.Value == nil {
			delete(out, f.Key)
		} else {
			out[f.Key] = f.Value
		}
	}
	return out, sizeOf(out)
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
