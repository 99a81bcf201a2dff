package session

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Damaged records.
//
// Engine contents are data, not trusted code: a bug, an old binary or an
// intruder with access to the engine can leave a record the engine
// cannot parse (store.ErrCorrupt), or fields whose names no manager
// writes (or empty values, which are no msgpack value). Neither may lock
// the user out. A record the engine cannot
// parse is reported once (the engine's error names the engine and the
// hashed key, never the ID), deleted, and treated as no session: the
// client is told to forget its ID and gets a fresh session on its next
// write. A field with an invalid name is left out of the session and
// reported; the other fields stay usable. A single value that does not
// decode stays the problem of that key (ErrDecode on read).

// dropCorrupt handles the corrupt record under key that err reports:
// one report, then the record is deleted here and on every node.
func (m *Manager) dropCorrupt(ctx context.Context, key string, err error) {
	m.reportError(ctx, fmt.Errorf("session: treating a corrupt record as no session and deleting it: %w", err))
	if derr := m.store.Delete(context.WithoutCancel(ctx), key); derr != nil {
		m.reportError(ctx, fmt.Errorf("session: deleting a corrupt record: %w", derr))
		return
	}
	m.invalidateKey(key, true, 0)
	m.publish(ctx, bus.Deleted, key, 0)
}

// validField reports whether a stored field can be one the manager
// wrote: a valid key (see ValidKey) and a value of at least one byte (a
// msgpack value never has fewer).
func validField(k string, v []byte) bool {
	if isReservedKey(k) {
		return validSetting(k, v)
	}
	return len(v) > 0 && ValidKey(k)
}

// validFields returns rec without the fields whose names are not valid
// keys (see ValidKey) or whose values are empty, reporting them once per
// load.
func (m *Manager) validFields(ctx context.Context, key string, rec store.Record) store.Record {
	bad := 0
	for k, v := range rec.Fields {
		if !validField(k, v) {
			bad++
		}
	}
	if bad == 0 {
		return rec
	}
	fields := make(map[string][]byte, len(rec.Fields)-bad)
	for k, v := range rec.Fields {
		if validField(k, v) {
			fields[k] = v
		}
	}
	rec.Fields = fields
	m.logger().ErrorContext(ctx, "session: ignoring fields with invalid names or empty values in a stored session",
		slog.String("handle", key), slog.Int("fields", bad))
	if m.report != nil {
		m.report(ctx, fmt.Errorf("session: load: %d field(s) with invalid names or empty values ignored in the session with handle %s", bad, key))
	}
	return rec
}
