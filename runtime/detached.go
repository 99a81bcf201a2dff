package session

import (
	"context"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// Sessions outside an HTTP handler: a WebSocket connection after the
// upgrade, a server-sent event stream, a gRPC call, a background job.

// Load returns the session whose ID is id (what [Session.ID] returns:
// the ID a cookie or header identity carries, without a signature), for
// use outside the session middleware. Reads and writes work as in a
// handler, typed views included ([Manager.Context] attaches the session
// to a context for TFrom), and every write goes to the engine at once,
// whatever the flush mode, since no response will carry it.
//
// An unknown, expired or malformed ID is an error wrapping [ErrNotFound],
// and so is a write after the session is gone (destroyed or revoked,
// here or elsewhere): a detached session never creates a new session,
// whose ID could not reach the client. [Session.Renew] works and gives
// the session a new ID, which the caller reads with [Session.ID] and
// delivers itself. Reads do not extend the idle timeout; writes do. A
// Session from Load is for one goroutine at a time, as a request's is.
func (m *Manager) Load(ctx context.Context, id string) (*Session, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !identity.ValidID(id) {
		return nil, opError("load", "", ErrNotFound)
	}
	s := &Session{m: m, ctx: ctx, detached: true, resolved: true, hadID: true, seen: m.now()}
	e, err := m.lookup(ctx, id, s.seen)
	if err != nil {
		return nil, opError("load", "", err)
	}
	if e == nil {
		return nil, opError("load", "", ErrNotFound)
	}
	s.e, s.id = e, id
	return s, nil
}

// Context returns a copy of ctx that carries s, so that [FromContext]
// and the generated TFrom(ctx) find it there, as in a handler: for a
// session from [Manager.Load], or a request's session handed to work
// that outlives the handler's context.
func (m *Manager) Context(ctx context.Context, s *Session) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, ctxKey{}, s)
}
