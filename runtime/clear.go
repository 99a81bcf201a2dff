package session

import (
	"context"
)

// Clear removes every key of the session in one change and keeps the
// session: its ID, its creation time and expiry, and its settings
// ([Session.SetPersistent], [Session.SetDeadline]) stay. A key that names
// the owner ([WithOwnerKey]) is removed too, so the session leaves its
// owner's list. To end a session, use [Session.Destroy]; to end it and
// start a new one, [Session.Renew].
//
// Clear reads the session from the engine and removes every key it holds
// there, conditional on each of them still holding what was read (a
// compare-and-set, as for [Update]), so a key written by another request
// or process before Clear began is removed too, never missed because this
// process had not heard of it yet; a write that races Clear either lands
// before it (and is removed) or after it (and stays). It costs two engine
// round trips (the read and the change) and goes to the engine at once,
// whatever the flush mode; under [OnResponse] the request's pending
// changes are dropped. A session that does not exist yet (nothing stored)
// is left without one; on a nil *Session the error wraps [ErrNoSession].
func (s *Session) Clear(ctx context.Context) error {
	if s == nil {
		return opError("clear", "", ErrNoSession)
	}
	ctx = s.context(ctx)
	return s.compareAndSet(ctx, "clear", "", func() error { return s.clearOnce(ctx) })
}

// clearOnce is one try of Clear.
func (s *Session) clearOnce(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if s.err != nil {
		return opError("clear", "", s.err)
	}
	if s.e == nil {
		// Nothing in the engine: drop what the request staged.
		if s.isNew {
			s.id, s.isNew, s.writeID = "", false, false
			s.status = StatusUnchanged
		}
		s.pending = nil
		return nil
	}
	s.pending = nil
	if err := s.reload(ctx); err != nil {
		return opError("clear", "", err)
	}
	sn := s.current()
	if sn == nil {
		return opError("clear", "", ErrNotFound)
	}
	var fs []Field
	expect := make(map[string][]byte)
	for it := sn.fields.iter(); it.next(); {
		k := string(it.key)
		if isReservedKey(k) {
			continue // the session's settings stay
		}
		fs = append(fs, Field{Key: k})
		expect[k] = it.value
	}
	if len(fs) == 0 {
		return nil
	}
	return s.send(ctx, "clear", "", fs, expect)
}
