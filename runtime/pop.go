package session

import (
	"context"
	"errors"
	"reflect"
)

// errNothingToPop stops the compare-and-set of a Pop that found no value:
// nothing is written.
var errNothingToPop = errors.New("session: nothing to pop")

// Pop returns the value stored under key, decoded as by [Value], and
// removes the key in the same change: a flash message, shown once. Two
// requests that pop one value at the same time, in one process or in
// several, never both get it: the removal is a compare-and-set at the
// engine (as for [Update]), applied only if the key still holds the value
// read, so the request that loses the race finds the key gone and gets ok
// false. A value set again meanwhile is popped afresh, never lost.
//
// ok is false when the key is absent; Pop then writes nothing (a visitor
// without a session gets none). The removal goes to the engine at once,
// whatever the flush mode (under [OnResponse] the request's pending
// changes go with it). A stored value that does not decode into a T gives
// an error wrapping [ErrDecode] and the key stays; on a nil *Session the
// error wraps [ErrNoSession].
//
//	if notice, ok, err := session.Pop[string](ctx, s, "notice"); err == nil && ok {
//		fmt.Fprintln(w, notice)
//	}
func Pop[T any](ctx context.Context, s *Session, key string) (T, bool, error) {
	var v T
	_, err := s.UpdateRaw(ctx, key, func(b []byte, ok bool) ([]byte, error) {
		var zero T
		v = zero
		if !ok {
			return nil, errNothingToPop
		}
		if err := decodeInto(&v, b); err != nil {
			return nil, decodeError(key, reflect.TypeFor[T](), err)
		}
		return nil, nil // remove the key
	})
	var zero T
	switch {
	case errors.Is(err, errNothingToPop):
		return zero, false, nil
	case err != nil:
		return zero, false, err
	}
	return v, true, nil
}

// PopRaw is the primitive under the generated PopF accessors (tag option
// flash): it removes key by the compare-and-set Pop uses and returns the
// encoded bytes removed (shared with the cache: do not modify them). ok
// is false when the key was absent; nothing is written then. Unlike Pop,
// it removes whatever the key holds, so a value the caller cannot decode
// is gone too.
func (s *Session) PopRaw(ctx context.Context, key string) (b []byte, ok bool, err error) {
	_, err = s.UpdateRaw(ctx, key, func(old []byte, present bool) ([]byte, error) {
		if !present {
			return nil, errNothingToPop
		}
		b = old
		return nil, nil
	})
	switch {
	case errors.Is(err, errNothingToPop):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return b, true, nil
}
