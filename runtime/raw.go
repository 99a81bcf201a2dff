package session

import (
	"context"
)

// Field is one key and its msgpack-encoded value, for
// [Session.SetRawFields]. A nil Value removes the key.
type Field struct {
	// Key is the field's key: 1 to 128 bytes of valid UTF-8.
	Key string
	// Value is exactly one msgpack value, or nil to remove Key.
	Value []byte
}

// Raw returns the msgpack-encoded bytes stored under key and whether the
// key is present. It is a primitive for generated code, usable by anyone:
// the bytes are shared with the cache and must not be modified. err
// reports a session that could not be loaded, or wraps [ErrNoSession].
// It allocates nothing on a cache hit.
func (s *Session) Raw(key string) (b []byte, ok bool, err error) {
	if s == nil {
		return nil, false, opError("get", key, ErrNoSession)
	}
	if isReservedKey(key) {
		return nil, false, nil // settings are read through their methods
	}
	s.mu.Lock()
	s.resolve()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, false, opError("get", key, err)
	}
	if s.pending != nil {
		if v, found := s.pending[key]; found {
			s.mu.Unlock()
			return v, v != nil, nil
		}
	}
	sn := s.current()
	s.mu.Unlock()
	if sn == nil {
		return nil, false, nil
	}
	b, ok = sn.fields.get(key)
	return b, ok, nil
}

// SetRaw stores b, which must be exactly one complete msgpack value
// ([ErrInvalidValue] otherwise), under key, with the checks and flushing
// of [Session.Set]. It is a primitive for generated code, usable by
// anyone. b is copied.
func (s *Session) SetRaw(ctx context.Context, key string, b []byte) error {
	if s == nil {
		return opError("set", key, ErrNoSession)
	}
	if !ValidKey(key) {
		return opError("set", key, ErrInvalidKey)
	}
	if !wellFormed(b) {
		return opError("set", key, ErrInvalidValue)
	}
	return s.apply(ctx, "set", key, []Field{{Key: key, Value: clone(b)}})
}

// SetRawFields applies several fields as one atomic change: one engine
// call under [Immediate] flushing, and either every field is written (or,
// for a nil Value, removed) or none is. Each Value must be exactly one
// msgpack value; the size limit applies to the result. A later field
// with the same key wins. It is a primitive for generated code, usable
// by anyone. The values are copied.
func (s *Session) SetRawFields(ctx context.Context, fields []Field) error {
	if s == nil {
		return opError("set", "", ErrNoSession)
	}
	if len(fields) == 0 {
		return nil
	}
	fs := make([]Field, len(fields))
	for i, f := range fields {
		if !ValidKey(f.Key) {
			return opError("set", f.Key, ErrInvalidKey)
		}
		if f.Value != nil && !wellFormed(f.Value) {
			return opError("set", f.Key, ErrInvalidValue)
		}
		fs[i] = Field{Key: f.Key, Value: clone(f.Value)}
	}
	key := ""
	if len(fs) == 1 {
		key = fs[0].Key
	}
	return s.apply(ctx, "set", key, fs)
}

// Report sends err to the manager's error reporting: one log line (never
// the session ID) and the reporter set with [WithErrorReporter]. It is
// for errors a caller cannot return, such as a generated getter that
// meets bytes it cannot decode. On a nil *Session it logs to
// [slog.Default]. A nil err is ignored.
func (s *Session) Report(ctx context.Context, err error) {
	if err == nil {
		return
	}
	if s == nil {
		(&Manager{}).reportError(ctx, err)
		return
	}
	s.m.reportError(ctx, err)
}

// clone copies b; nil stays nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
