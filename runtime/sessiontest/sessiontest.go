// Package sessiontest helps test handlers that use sessions, without a
// server, a cookie jar or a storage engine: a [Harness] is a manager on
// the memory engine that remembers its client's session cookie.
//
//	h := sessiontest.New(t)
//	h.Seed(map[string]any{"uid": 42})             // a session holding uid=42
//	rec := h.Do(handler, httptest.NewRequest("GET", "/cart", nil))
//	n, ok := sessiontest.Value[int](h, "items")   // what the handler stored
//
// Requests go through the manager's real middleware, so the handler sees
// exactly what it sees in production, typed views included
// (UserSessionFrom(r.Context()) in generated code). Use [Harness.With] to
// read or change the session through typed views from the test itself.
package sessiontest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Harness is a session manager on a fresh memory engine together with
// one client: the session cookie the last response set. It is not safe
// for concurrent use by several goroutines of the test (requests made
// through [Harness.Manager] directly are).
type Harness struct {
	// Manager is the manager the harness serves requests with. Its
	// engine and goroutines are released when the test ends.
	Manager *session.Manager
	t       testing.TB
	cookies []*http.Cookie
}

// New returns a harness whose manager is built from opts on top of a
// fresh memory engine (an option choosing another engine wins). Invalid
// options fail the test.
func New(t testing.TB, opts ...session.Option) *Harness {
	t.Helper()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	m, err := session.New(append([]session.Option{session.WithStore(mem)}, opts...)...)
	if err != nil {
		t.Fatalf("sessiontest: session.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return &Harness{Manager: m, t: t}
}

// Seed starts a new session holding values (each encoded as
// [session.Session.Set] does) and makes it the client's session. It
// fails the test when a value cannot be stored.
func (h *Harness) Seed(values map[string]any) *Harness {
	h.t.Helper()
	h.cookies = nil
	h.With(func(ctx context.Context, s *session.Session) {
		for k, v := range values {
			if err := s.Set(ctx, k, v); err != nil {
				h.t.Fatalf("sessiontest: seed %q: %v", k, err)
			}
		}
	})
	return h
}

// Do serves req with handler through the manager's middleware, as the
// client: the client's session cookie goes with the request, and a
// cookie the response sets (a new, renewed or destroyed session) becomes
// the client's. It returns the recorded response.
func (h *Harness) Do(handler http.Handler, req *http.Request) *httptest.ResponseRecorder {
	h.t.Helper()
	for _, c := range h.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.Manager.Handler(handler).ServeHTTP(rec, req)
	h.keep(rec.Result().Cookies())
	return rec
}

// With runs fn inside a request of the client, with the request's
// context and session: a way for the test to read or change the session
// directly, typed views included (UserSessionFrom(ctx)).
func (h *Harness) With(fn func(ctx context.Context, s *session.Session)) {
	h.t.Helper()
	h.Do(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(r.Context(), session.FromContext(r.Context()))
	}), httptest.NewRequest(http.MethodGet, "/", nil))
}

// Get decodes the client's session value under key into dst (see
// [session.Session.Get]) and reports whether it is present. A value that
// does not decode fails the test.
func (h *Harness) Get(key string, dst any) bool {
	h.t.Helper()
	var ok bool
	h.With(func(_ context.Context, s *session.Session) {
		var err error
		if ok, err = s.Get(key, dst); err != nil {
			h.t.Fatalf("sessiontest: get %q: %v", key, err)
		}
	})
	return ok
}

// Value returns the client's session value under key as a T and whether
// it is present. A value that does not decode into a T fails the test.
func Value[T any](h *Harness, key string) (T, bool) {
	h.t.Helper()
	var v T
	ok := h.Get(key, &v)
	return v, ok
}

// Keys returns the keys of the client's session, sorted (nil when it has
// none).
func (h *Harness) Keys() []string {
	h.t.Helper()
	var keys []string
	h.With(func(_ context.Context, s *session.Session) { keys = s.Keys() })
	return keys
}

// ID returns the client's session ID, "" when it has no session (none
// yet, destroyed, or expired).
func (h *Harness) ID() string {
	h.t.Helper()
	var id string
	h.With(func(_ context.Context, s *session.Session) { id = s.ID() })
	return id
}

// Cookie returns the cookie named name that the client holds (the
// session cookie is "sid" by default), or nil.
func (h *Harness) Cookie(name string) *http.Cookie {
	for _, c := range h.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// keep makes the cookies a response set the client's: a cookie with a
// name already held replaces it, and one that expires removes it.
func (h *Harness) keep(set []*http.Cookie) {
	for _, c := range set {
		kept := h.cookies[:0]
		for _, old := range h.cookies {
			if old.Name != c.Name {
				kept = append(kept, old)
			}
		}
		h.cookies = kept
		if c.MaxAge >= 0 && c.Value != "" {
			h.cookies = append(h.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
}
