package session

import (
	"errors"
	"log/slog"

	"github.com/sessiongen/sessiongen/runtime/identity"
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
	if s.isNew {
		return s.flushNew()
	}
	pending := s.pending
	s.pending = nil
	e := s.e
	if e == nil {
		return nil
	}
	if len(pending) == 0 && !s.seen.IsZero() && s.m.touchDue(e.snap.Load(), s.seen).IsZero() {
		// The common case, a read-only request: nothing to send. The
		// lookup's time is recent enough to judge the extension by.
		return nil
	}
	if len(pending) > 0 {
		return s.commit(s.ctx, "flush", "", pendingFields(pending), nil)
	}
	err := s.commit(s.ctx, "extend expiry", "", nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.m.reportError(s.ctx, err)
	}
	return nil
}

// flushNew creates the session staged under OnResponse. Called with mu
// held.
func (s *Session) flushNew() error {
	fs := pendingFields(s.pending)
	s.pending = nil
	if err := s.create(s.ctx, "flush", "", fs); err != nil {
		s.id, s.isNew, s.writeID = "", false, false
		return err
	}
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
	case (s.writeID || s.extended && s.keepsClientExpiry()) && s.id != "" && s.e != nil:
		s.writeCookie()
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
