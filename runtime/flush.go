package session

import (
	"errors"
	"log/slog"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// startResponse runs once, just before the response headers go out (or
// when the handler returns without writing). It sends the request's
// pending changes and due expiry extension to the engine, then writes or
// clears the ID on the response. It reports whether the handler's output
// should be written: false when the error handler answered instead.
func (s *Session) startResponse() bool {
	s.mu.Lock()
	switch s.phase.Load() {
	case phaseSent:
		s.mu.Unlock()
		return true
	case phaseFailed:
		s.mu.Unlock()
		return false
	}
	if !s.resolved {
		s.phase.Store(phaseSent)
		s.mu.Unlock()
		return true
	}
	var err error
	if s.failed {
		err = s.err
	} else {
		err = s.flush()
	}
	if err != nil {
		s.phase.Store(phaseFailed)
		s.pending, s.writeID, s.extended, s.clearID = nil, false, false, false
		if s.isNew {
			s.id, s.isNew = "", false
		}
		s.mu.Unlock()
		s.fail(err)
		return false
	}
	s.writeIdentity()
	s.phase.Store(phaseSent)
	s.mu.Unlock()
	return true
}

// finish runs after the handler returned normally. It starts the response
// if the handler wrote nothing. Otherwise it sends an expiry extension
// that became due after the headers went out (the session was first used
// then), without a cookie update, or logs a load failure that happened
// then.
func (s *Session) finish() {
	if s.phase.Load() == phaseBefore {
		s.startResponse()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase.Load() != phaseSent {
		return
	}
	switch {
	case s.failed:
		// The session could not be loaded after the headers went out:
		// the handler got the error; it is logged here too.
		s.m.reportError(s.ctx, s.err)
	case s.e != nil:
		_ = s.flush() // only an extension can be due; its errors are reported
	}
}

// flush sends the pending changes (OnResponse) and a due expiry extension
// to the engine in one call. A failed extension alone is reported, not
// returned: the session still works and its expiry is merely not
// extended. Called with mu held.
func (s *Session) flush() error {
	m := s.m
	if s.isNew {
		return s.flushNew()
	}
	pending := s.pending
	s.pending = nil
	e := s.e
	if e == nil {
		return nil
	}
	if len(pending) == 0 && !s.seen.IsZero() && m.touchDue(e.snap.Load(), s.seen).IsZero() {
		// The common case, a read-only request: nothing to send. The
		// lookup's time is recent enough to judge the extension by.
		return nil
	}
	now := m.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	if !m.live(cur, now) {
		m.expire(s.ctx, e, cur)
		s.lost(e)
		if len(pending) > 0 {
			return opError("flush", "", ErrNotFound)
		}
		return nil
	}
	next := *cur
	var c store.Change
	if len(pending) > 0 {
		fs := pendingFields(pending)
		next.fields, next.size = applyFields(cur.fields, fs)
		if hasSet(fs) && next.size > m.maxSize {
			return opError("flush", "", ErrTooLarge)
		}
		c = changeFor(next.fields, fs)
		if o, ok := m.ownerChange(fs); ok {
			c.Owner, next.owner = ptr(o), o
		}
	}
	if t := m.touchDue(cur, now); !t.IsZero() {
		c.Expires, next.expires = t, t
	}
	if c.Empty() {
		return nil
	}
	checked, start := e.checked.Load(), m.stamp(now)
	v, err := m.store.Update(s.ctx, e.key, c)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.lost(e)
			if len(pending) == 0 {
				return nil
			}
		}
		if len(pending) == 0 {
			m.reportError(s.ctx, opError("extend expiry", "", err))
			return nil
		}
		return opError("flush", "", err)
	}
	next.version = v
	e.snap.Store(&next)
	m.settle(e, cur, v, checked, start)
	m.publish(s.ctx, bus.Changed, e.key, v)
	if !c.Expires.IsZero() {
		s.extended = true
	}
	m.written(e, v)
	return nil
}

// flushNew creates the session staged under OnResponse. Called with mu
// held.
func (s *Session) flushNew() error {
	pending := s.pending
	s.pending, s.isNew = nil, false
	fields := make(map[string][]byte, len(pending))
	for k, v := range pending {
		if v != nil {
			fields[k] = v
		}
	}
	if len(fields) == 0 { // every key set was removed again
		s.id, s.writeID = "", false
		return nil
	}
	size := sizeOf(fields)
	if size > s.m.maxSize {
		s.id, s.writeID = "", false
		return opError("flush", "", ErrTooLarge)
	}
	e, err := s.m.create(s.ctx, s.id, fields, size)
	if err != nil {
		s.id, s.writeID = "", false
		return opError("flush", "", err)
	}
	s.e = e
	return nil
}

// writeIdentity sends the session ID to the client, or tells it to
// forget its ID, as the request's changes require. Called with mu held,
// before the headers go out.
func (s *Session) writeIdentity() {
	if s.ident == nil {
		return
	}
	switch {
	case (s.writeID || s.extended && keepsExpiry(s.ident)) && s.id != "" && s.e != nil:
		s.ident.Write(s.rw, s.r, s.id, s.m.deadline(s.e.snap.Load()))
	case s.clearID:
		s.ident.Clear(s.rw, s.r)
	}
	s.writeID, s.extended, s.clearID = false, false, false
}

// keepsExpiry reports whether the client learns the session's expiry
// from ident, so a moved expiry must be sent again: a persistent cookie
// does, a browser-session cookie does not. Other identities are assumed
// to.
func keepsExpiry(ident identity.Identity) bool {
	if c, ok := ident.(*identity.Cookie); ok {
		return c.Persistent
	}
	return true
}

// fail answers the request with the error handler instead of the
// handler: one log line (no session ID), the handler's headers dropped.
func (s *Session) fail(err error) {
	m := s.m
	attrs := []any{slog.Any("err", err)}
	if s.r != nil {
		attrs = append(attrs, slog.String("method", s.r.Method))
		if s.r.URL != nil {
			attrs = append(attrs, slog.String("path", s.r.URL.Path))
		}
	}
	m.logger().ErrorContext(s.ctx, "session: request failed", attrs...)
	clear(s.rw.Header())
	m.onError(s.rw, s.r, err)
}
