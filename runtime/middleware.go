package session

import (
	"context"
	"net/http"
)

// ctxKey is the context key under which the middleware stores the
// request's *Session.
type ctxKey struct{}

// state is everything the middleware needs per request, allocated as one
// object: the session, the response writer wrapper and the context that
// carries the session.
type state struct {
	s Session
	w writer
	c sessionContext
}

// sessionContext is the request's context with the session attached: a
// context.WithValue that lives inside state instead of a separate
// allocation.
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for the package's key and defers to the
// parent context for every other key.
func (c *sessionContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// Handler returns middleware that gives every request served by next its
// [Session] (see [FromContext]) and writes the session ID, or clears it,
// on the response before its first byte. The session is loaded lazily: a
// request that never uses it costs no engine call and gets no
// Set-Cookie.
//
// Under [OnResponse] the request's changes are sent to the engine just
// before the headers go out; if that fails, or if the session could not
// be loaded, the manager logs the error and its error handler writes the
// response instead (see [WithErrorHandler]). A handler that panics gets
// none of its pending changes sent; the panic goes on up.
//
// The wrapped http.ResponseWriter supports http.Flusher, http.Hijacker,
// io.ReaderFrom and [http.ResponseController] (through Unwrap). Handler
// panics if next is nil, as [http.Handle] does.
func (m *Manager) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("session: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{}
		parent := r.Context()
		st.s.m, st.s.rw, st.s.ctx = m, w, parent
		st.c.Context, st.c.s = parent, &st.s
		st.w.s = &st.s
		r = r.WithContext(&st.c)
		st.s.r = r
		next.ServeHTTP(&st.w, r)
		st.s.finish()
	})
}
