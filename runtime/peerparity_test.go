package session

// Parity with the behaviours that the test suite of github.com/alexedwards/scs
// (v2: session_test.go, data_test.go, memstore/memstore_test.go) asserts,
// expressed in this package's API and run against the memory engine. Time
// is moved with the harness's clock (withClock), never slept.
//
// Mapping: scs Put -> Session.Set, Get/GetString/... -> Value[T],
// Pop/PopString/... -> Pop[T], Exists -> Raw's ok, Keys -> Keys,
// Remove -> Remove, Clear -> Clear, Destroy -> Destroy, RenewToken -> Renew,
// RememberMe -> SetPersistent, SetDeadline -> SetDeadline, Status ->
// Status, Token -> ID, Load -> Manager.Load, Cookie.* -> identity.Cookie,
// ErrorFunc -> WithErrorHandler, Store.Find/Commit/Delete ->
// memstore Load/Create+Update/Delete.

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// peerDo sends one request for target (a path, optionally with a host
// as "http://host/path") through the harness's middleware.
func (h *harness) peerDo(target string, useTLS bool, fn handle, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if useTLS {
		req.TLS = &tls.ConnectionState{}
	}
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r, FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec
}

// peerGetFoo reads "foo" as a string in one request, as the scs /get route.
func (h *harness) peerGetFoo(c *http.Cookie) (string, bool, *httptest.ResponseRecorder) {
	h.t.Helper()
	var v string
	var ok bool
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		var err error
		v, ok, err = Value[string](s, "foo")
		require.NoError(h.t, err)
	}, c)
	return v, ok, rec
}

// namedCookie returns the cookie called name that a response sets, or nil.
func namedCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// scs TestEnable: the first Put sends a token; a Get sees the value and
// sends no cookie; a later Put keeps the same token.
func TestPeerEnable(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("foo", "bar")
	require.True(t, identity.ValidID(c.Value))

	v, ok, rec := h.peerGetFoo(c)
	assert.True(t, ok)
	assert.Equal(t, "bar", v)
	assert.Empty(t, rec.Header().Values("Set-Cookie"), "a read sends no cookie")

	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "baz"))
		assert.Equal(t, c.Value, s.ID(), "a write to an existing session keeps its token")
	}, c)
	if again := sidCookie(rec.Result()); again != nil {
		assert.Equal(t, c.Value, again.Value, "a cookie sent again carries the same token")
	}
	v, _, _ = h.peerGetFoo(c)
	assert.Equal(t, "baz", v)
}

// scs LoadAndSave: a request that does not touch its session writes no
// cookie and costs no store call.
func TestPeerUntouchedSessionWritesNothing(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _ = w.Write([]byte("hello"))
	})
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
	assert.Zero(t, h.store.calls(), "no engine call")

	// Reading a session that does not exist creates none.
	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Value[string](s, "foo")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, "", s.ID())
	})
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
	assert.Zero(t, h.store.creates.Load(), "nothing stored for a visitor who only read")
}

// scs TestLifetime: a session is gone once its lifetime has passed,
// however active.
func TestPeerLifetime(t *testing.T) {
	h := newHarness(t, WithLifetime(500*time.Millisecond))
	c := h.newSession("foo", "bar")
	h.clock.Advance(250 * time.Millisecond)
	v, ok, _ := h.peerGetFoo(c)
	require.True(t, ok)
	assert.Equal(t, "bar", v)

	h.clock.Advance(time.Second)
	_, ok, _ = h.peerGetFoo(c)
	assert.False(t, ok, "foo does not exist in session after the lifetime")
}

// scs TestIdleTimeout (200 ms idle, 1 s lifetime): use at 100 ms and
// 250 ms keeps it; 200 ms of inactivity ends it.
func TestPeerIdleTimeout(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(200*time.Millisecond), WithLifetime(time.Second))
	c := h.newSession("foo", "bar")

	h.clock.Advance(100 * time.Millisecond)
	_, ok, _ := h.peerGetFoo(c)
	require.True(t, ok)

	h.clock.Advance(150 * time.Millisecond) // 250 ms after creation, 150 ms idle
	v, ok, _ := h.peerGetFoo(c)
	require.True(t, ok, "use slides the idle deadline")
	assert.Equal(t, "bar", v)

	h.clock.Advance(200 * time.Millisecond) // 200 ms idle
	_, ok, _ = h.peerGetFoo(c)
	assert.False(t, ok, "foo does not exist in session after the idle timeout")
}

// scs TestDestroy: the response clears the cookie (empty value, Max-Age=0,
// Expires in 1970) and the old token reaches nothing.
func TestPeerDestroy(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("foo", "bar")
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Destroy(r.Context()))
		assert.Equal(t, StatusDestroyed, s.Status())
		assert.Equal(t, "", s.ID())
	}, c)
	raw := rec.Header().Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(raw, "sid=;"), "got %q", raw)
	assert.Contains(t, raw, "Max-Age=0")
	assert.Contains(t, raw, "Expires=Thu, 01 Jan 1970")

	_, err := h.engineRecord(c)
	assert.ErrorIs(t, err, store.ErrNotFound, "deleted in the store")
	_, ok, _ := h.peerGetFoo(c)
	assert.False(t, ok)
}

// scs TestRenewToken: the token changes, the data stays; the old token
// no longer works.
func TestPeerRenewToken(t *testing.T) {
	h := newHarness(t)
	old := h.newSession("foo", "bar")
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
		assert.Equal(t, StatusModified, s.Status())
		assert.NotEqual(t, old.Value, s.ID())
	}, old)
	renewed := sidCookie(rec.Result())
	require.NotNil(t, renewed, "the new token is sent")
	assert.NotEqual(t, old.Value, renewed.Value, "token has changed")

	v, ok, _ := h.peerGetFoo(renewed)
	assert.True(t, ok)
	assert.Equal(t, "bar", v)

	_, ok, _ = h.peerGetFoo(old)
	assert.False(t, ok, "the old token reaches nothing")
	_, err := h.engineRecord(old)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// scs TestRememberMe (Cookie.Persist = false): a normal write sends a
// browser-session cookie; RememberMe(true) adds Max-Age and Expires;
// RememberMe(false) removes them.
func TestPeerRememberMe(t *testing.T) {
	h := newHarness(t, WithIdentities(&identity.Cookie{Persistent: false}))
	persists := func(rec *httptest.ResponseRecorder) bool {
		raw := rec.Header().Get("Set-Cookie")
		require.NotEmpty(t, raw)
		hasMax, hasExp := strings.Contains(raw, "Max-Age="), strings.Contains(raw, "Expires=")
		require.Equal(t, hasMax, hasExp, "Max-Age and Expires go together: %q", raw)
		return hasMax
	}

	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
	})
	assert.False(t, persists(rec), "put-normal")
	c := sidCookie(rec.Result())

	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), true))
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
	}, c)
	assert.True(t, persists(rec), "put-rememberMe-true")
	got := sidCookie(rec.Result())
	assert.Greater(t, got.MaxAge, 0)

	rec = h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), false))
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
	}, c)
	assert.False(t, persists(rec), "put-rememberMe-false")
}

// scs's default Cookie: Path "/", no Domain, HttpOnly, SameSite=Lax,
// Secure only when asked. Ours is Secure over TLS; both set
// Cache-Control and Vary so shared caches do not replay the cookie.
func TestPeerCookieDefaults(t *testing.T) {
	h := newHarness(t)
	for _, useTLS := range []bool{false, true} {
		rec := h.peerDo("/", useTLS, func(w http.ResponseWriter, r *http.Request, s *Session) {
			require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		})
		c := sidCookie(rec.Result())
		require.NotNil(t, c)
		assert.Equal(t, "/", c.Path)
		assert.Equal(t, "", c.Domain)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
		assert.Equal(t, useTLS, c.Secure, "Secure over TLS")
		assert.Zero(t, c.MaxAge)
		assert.True(t, c.Expires.IsZero(), "a browser-session cookie by default")
		assert.Contains(t, rec.Header().Values("Vary"), "Cookie")
		assert.Contains(t, rec.Header().Get("Cache-Control"), `no-cache="Set-Cookie"`)
	}
}

// scs Cookie fields set by the user (Name, Path, Domain, Secure,
// HttpOnly, SameSite, Persist) are what the Set-Cookie carries; a
// persistent cookie's Max-Age and Expires follow the session's expiry.
func TestPeerCookieAttributes(t *testing.T) {
	ck := &identity.Cookie{
		Name: "session", Path: "/app", Domain: "example.com",
		ForceSecure: true, AllowScript: true, SameSite: http.SameSiteStrictMode,
		Persistent: true,
	}
	h := newHarness(t, WithIdentities(ck), WithIdleTimeout(time.Hour), WithLifetime(24*time.Hour))
	var expires time.Time
	rec := h.peerDo("http://www.example.com/app/put", false, func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		expires = s.Expires()
	})
	c := namedCookie(rec, "session")
	require.NotNil(t, c, "cookie named as configured: %v", rec.Header().Values("Set-Cookie"))
	assert.Equal(t, "/app", c.Path)
	assert.Equal(t, "example.com", c.Domain)
	assert.True(t, c.Secure)
	assert.False(t, c.HttpOnly, "AllowScript leaves HttpOnly out")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.InDelta(t, time.Hour.Seconds(), float64(c.MaxAge), 5, "Max-Age is the time to the session's expiry")
	assert.WithinDuration(t, expires, c.Expires, time.Second, "Expires is the session's expiry")

	v, ok := "", false
	h.peerDo("http://www.example.com/app/get", false, func(w http.ResponseWriter, r *http.Request, s *Session) {
		var err error
		v, ok, err = Value[string](s, "foo")
		require.NoError(t, err)
	}, c)
	assert.True(t, ok)
	assert.Equal(t, "bar", v)

	// SameSite=None forces Secure, as browsers require.
	h2 := newHarness(t, WithIdentities(&identity.Cookie{SameSite: http.SameSiteNoneMode}))
	rec = h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
	})
	c = sidCookie(rec.Result())
	require.NotNil(t, c)
	assert.Equal(t, http.SameSiteNoneMode, c.SameSite)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
}

// scs TestSessionManager_Load "with unfound token in store": an unknown
// token gives an empty session with no token, and the first write makes a
// new token (never the client's).
func TestPeerUnknownTokenGivesEmptySession(t *testing.T) {
	h := newHarness(t)
	planted, err := identity.NewID()
	require.NoError(t, err)
	for _, value := range []string{planted, "example"} {
		rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			_, ok, err := Value[string](s, "foo")
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, "", s.ID(), "no token for an unknown session")
			require.NoError(t, s.Set(r.Context(), "foo", "bar"))
			assert.NotEqual(t, value, s.ID())
			assert.True(t, identity.ValidID(s.ID()))
		}, &http.Cookie{Name: "sid", Value: value})
		c := sidCookie(rec.Result())
		require.NotNil(t, c)
		assert.NotEqual(t, value, c.Value)
	}
}

// scs TestSessionManager_Load "happy path" and Token: a known token loads
// its session outside a handler, with its data and the same token.
func TestPeerLoadByToken(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("things", "stuff")
	ctx := context.Background()
	s, err := h.m.Load(ctx, c.Value)
	require.NoError(t, err)
	assert.Equal(t, c.Value, s.ID())
	v, ok, err := Value[string](s, "things")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "stuff", v)
	assert.Same(t, s, FromContext(h.m.Context(ctx, s)))

	// Commit outside a request: the write reaches the store.
	require.NoError(t, s.Set(ctx, "more", 1))
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Contains(t, rec.Fields, "more")
}

// scs TestSessionManager_Load "with error finding token in store" and
// LoadAndSave's ErrorFunc: a store failure is an error, and the error
// handler answers.
func TestPeerStoreFindError(t *testing.T) {
	var handled error
	h := newHarness(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "custom", http.StatusTeapot)
	}))
	c := h.newSession("foo", "bar")
	h2 := newHarnessOn(t, h.store.Store, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "custom", http.StatusTeapot)
	}))
	h2.store.failOn("load", errInjected)
	var readErr error
	rec := h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, readErr = Value[string](s, "foo")
	}, c)
	require.Error(t, readErr)
	assert.ErrorIs(t, readErr, errInjected)
	assert.Equal(t, http.StatusTeapot, rec.Code, "the error handler writes the response")
	assert.ErrorIs(t, handled, errInjected)

	_, err := h2.m.Load(context.Background(), c.Value)
	assert.ErrorIs(t, err, errInjected)
}

// scs TestSessionManager_Commit "with error committing to store": the
// failed commit is an error (Immediate: from Set; OnResponse: the error
// handler answers instead of the handler).
func TestPeerStoreCommitError(t *testing.T) {
	h := newHarness(t)
	h.store.failOn("create", errInjected)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		err := s.Set(r.Context(), "blah", "blah")
		assert.ErrorIs(t, err, errInjected)
	})

	var handled error
	h2 := newHarness(t, WithFlushMode(OnResponse), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	h2.store.failOn("create", errInjected)
	rec := h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "blah", "blah"))
		_, _ = w.Write([]byte("ok"))
	})
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.ErrorIs(t, handled, errInjected)
	assert.NotContains(t, rec.Body.String(), "ok")
	assert.Nil(t, sidCookie(rec.Result()), "no token for a session that was not stored")
}

// scs HashTokenInStore (ours always): the store never sees the token.
func TestPeerTokenHashedInStore(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("blah", "blah")
	keys := h.store.seenKeys()
	require.NotEmpty(t, keys)
	assert.NotContains(t, keys, c.Value)
	assert.Contains(t, keys, store.Key(c.Value))
	for _, k := range keys {
		assert.NotContains(t, k, c.Value)
	}
}

// scs TestSessionDataFromContext panics without the middleware; ours
// returns nil and every method reports ErrNoSession.
func TestPeerNoMiddleware(t *testing.T) {
	s := FromContext(context.Background())
	require.Nil(t, s)
	assert.ErrorIs(t, s.Set(context.Background(), "foo", "bar"), ErrNoSession)
	_, _, err := Value[string](s, "foo")
	assert.ErrorIs(t, err, ErrNoSession)
	_, _, err = Pop[string](context.Background(), s, "foo")
	assert.ErrorIs(t, err, ErrNoSession)
	assert.ErrorIs(t, s.Destroy(context.Background()), ErrNoSession)
	assert.ErrorIs(t, s.Renew(context.Background()), ErrNoSession)
	assert.ErrorIs(t, s.Clear(context.Background()), ErrNoSession)
	assert.Nil(t, s.Keys())
	assert.Equal(t, "", s.ID())
}

// scs TestPut: Put stores the value and marks the session modified.
func TestPeerPut(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("x", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		v, ok, err := Value[string](s, "foo")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bar", v)
		assert.Equal(t, StatusModified, s.Status())
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Contains(t, rec.Fields, "foo")
}

// peerValues is what the scs Get*/Pop* tests store: one value per type.
var peerValues = map[string]any{
	"str": "bar", "bool": true, "int": 123, "float": 123.456,
	"bytes": []byte("bar"), "time": time.Now(),
}

// peerSession creates a session holding every peerValues entry.
func (h *harness) peerSession() *http.Cookie {
	h.t.Helper()
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		for k, v := range peerValues {
			require.NoError(h.t, s.Set(r.Context(), k, v))
		}
	})
	c := sidCookie(rec.Result())
	require.NotNil(h.t, c)
	return c
}

// scs TestGet, TestGetString/Bool/Int/Float/Bytes/Time: typed reads give
// the value stored, and the zero value for an absent key.
func TestPeerGetTyped(t *testing.T) {
	h := newHarness(t)
	c := h.peerSession()
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		str, ok, err := Value[string](s, "str")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bar", str)
		b, _, err := Value[bool](s, "bool")
		require.NoError(t, err)
		assert.True(t, b)
		i, _, err := Value[int](s, "int")
		require.NoError(t, err)
		assert.Equal(t, 123, i)
		f, _, err := Value[float64](s, "float")
		require.NoError(t, err)
		assert.Equal(t, 123.456, f)
		bs, _, err := Value[[]byte](s, "bytes")
		require.NoError(t, err)
		assert.Equal(t, []byte("bar"), bs)
		tm, _, err := Value[time.Time](s, "time")
		require.NoError(t, err)
		assert.True(t, tm.Equal(peerValues["time"].(time.Time)), "got %v", tm)

		var dst string
		ok, err = s.Get("str", &dst)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bar", dst)

		// Absent keys: zero values.
		str, ok, err = Value[string](s, "baz")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, "", str)
		b, _, _ = Value[bool](s, "baz")
		assert.False(t, b)
		i, _, _ = Value[int](s, "baz")
		assert.Zero(t, i)
		f, _, _ = Value[float64](s, "baz")
		assert.Zero(t, f)
		bs, _, _ = Value[[]byte](s, "baz")
		assert.Nil(t, bs)
		tm, _, _ = Value[time.Time](s, "baz")
		assert.True(t, tm.IsZero())
		assert.Equal(t, StatusUnchanged, s.Status(), "reads change nothing")
	}, c)
}

// scs TestPop and TestPopString/Bool/Int/Float/Bytes/Time: Pop returns the
// value, removes the key and marks the session modified; an absent key
// gives the zero value.
func TestPeerPopTyped(t *testing.T) {
	h := newHarness(t)
	c := h.peerSession()
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		str, ok, err := Pop[string](ctx, s, "str")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bar", str)
		assert.Equal(t, StatusModified, s.Status())
		b, ok, err := Pop[bool](ctx, s, "bool")
		require.NoError(t, err)
		assert.True(t, ok && b)
		i, _, err := Pop[int](ctx, s, "int")
		require.NoError(t, err)
		assert.Equal(t, 123, i)
		f, _, err := Pop[float64](ctx, s, "float")
		require.NoError(t, err)
		assert.Equal(t, 123.456, f)
		bs, _, err := Pop[[]byte](ctx, s, "bytes")
		require.NoError(t, err)
		assert.Equal(t, []byte("bar"), bs)
		tm, _, err := Pop[time.Time](ctx, s, "time")
		require.NoError(t, err)
		assert.True(t, tm.Equal(peerValues["time"].(time.Time)))
		assert.Empty(t, s.Keys(), "every popped key is gone")

		// Popping again (absent): zero values, nothing written.
		str, ok, err = Pop[string](ctx, s, "str")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, "", str)
		bs, _, _ = Pop[[]byte](ctx, s, "bar")
		assert.Nil(t, bs)
		tm, _, _ = Pop[time.Time](ctx, s, "baz")
		assert.True(t, tm.IsZero())
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	for k := range peerValues {
		assert.NotContains(t, rec.Fields, k, "popped from the store too")
	}

	// A Pop that finds nothing leaves the session unmodified.
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Pop[string](r.Context(), s, "str")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, StatusUnchanged, s.Status())
	}, c)
}

// scs TestRemove: the key is gone and the session modified.
func TestPeerRemove(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("foo", "bar")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Remove(r.Context(), "foo"))
		_, ok, err := Value[string](s, "foo")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, StatusModified, s.Status())
	}, c)
	_, ok, _ := h.peerGetFoo(c)
	assert.False(t, ok)
}

// scs TestClear: every key is gone and the session modified (and, in
// ours, kept: same token).
func TestPeerClear(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		require.NoError(t, s.Set(r.Context(), "baz", "boz"))
	})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Clear(r.Context()))
		assert.Empty(t, s.Keys())
		for _, k := range []string{"foo", "baz"} {
			_, ok, err := s.Raw(k)
			require.NoError(t, err)
			assert.False(t, ok, k)
		}
		assert.Equal(t, StatusModified, s.Status())
		assert.Equal(t, c.Value, s.ID())
	}, c)
	rec2, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Empty(t, rec2.Fields)
}

// scs TestExists: present and absent keys.
func TestPeerExists(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("foo", "bar")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := s.Raw("foo")
		require.NoError(t, err)
		assert.True(t, ok)
		_, ok, err = s.Raw("baz")
		require.NoError(t, err)
		assert.False(t, ok)
	}, c)
}

// scs TestKeys: the keys, sorted.
func TestPeerKeys(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "woo", "waa"))
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		assert.Equal(t, []string{"foo", "woo"}, s.Keys())
	})
	c := sidCookie(rec.Result())
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetPersistent(r.Context(), true))
		assert.Equal(t, []string{"foo", "woo"}, s.Keys(), "settings are not keys")
	}, c)
}

// scs TestStatus: unmodified, then modified by a write, then destroyed.
func TestPeerStatus(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("x", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, StatusUnchanged, s.Status())
		require.NoError(t, s.Set(r.Context(), "foo", "bar"))
		assert.Equal(t, StatusModified, s.Status())
		require.NoError(t, s.Destroy(r.Context()))
		assert.Equal(t, StatusDestroyed, s.Status())
	}, c)
}

// scs SetDeadline/Deadline: the session ends at the deadline; the deadline
// is reported.
func TestPeerDeadline(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour))
	c := h.newSession("foo", "bar")
	deadline := h.clock.Now().Add(30 * time.Minute)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.SetDeadline(r.Context(), deadline))
		assert.True(t, s.Expires().Equal(deadline), "Expires %v, want %v", s.Expires(), deadline)
	}, c)
	h.clock.Advance(29 * time.Minute)
	_, ok, _ := h.peerGetFoo(c)
	require.True(t, ok, "alive before the deadline, and use does not extend past it")
	h.clock.Advance(time.Minute)
	_, ok, _ = h.peerGetFoo(c)
	assert.False(t, ok, "gone at the deadline")
}

// scs TestIterate, in the shape ours supports: the live sessions of an
// owner are listed (without their tokens), and each can be ended.
func TestPeerIterateOwnerSessions(t *testing.T) {
	h := newHarness(t, WithOwnerKey("user"))
	var cookies []*http.Cookie
	for i := range 3 {
		rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			require.NoError(t, s.Set(r.Context(), "user", "u1"))
			require.NoError(t, s.Set(r.Context(), "foo", i))
		})
		cookies = append(cookies, sidCookie(rec.Result()))
	}
	other := h.newSession("user", "u2")
	ctx := context.Background()
	infos, err := h.m.Sessions(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, infos, 3)
	want := map[string]bool{}
	for _, c := range cookies {
		want[store.Key(c.Value)] = true
	}
	for _, in := range infos {
		assert.True(t, want[in.Handle], "listed under its handle")
		assert.False(t, in.Created.IsZero())
		require.NoError(t, h.m.Revoke(ctx, in.Handle))
	}
	for _, c := range cookies {
		ok, _ := h.read(c)
		assert.False(t, ok)
	}
	_, err = h.engineRecord(other)
	assert.NoError(t, err, "another owner's session stays")
}

// scs memstore tests (Find, FindMissing, CommitNew, CommitUpdated,
// Expiry, Delete) against our memory engine.
func TestPeerMemstore(t *testing.T) {
	ctx := context.Background()
	m := memstore.New(memstore.WithCleanupInterval(0))
	t.Cleanup(func() { _ = m.Close() })
	key := store.Key("session_token")
	future := time.Now().Add(time.Minute)

	// FindMissing
	_, err := m.Load(ctx, store.Key("missing_session_token"))
	assert.ErrorIs(t, err, store.ErrNotFound)

	// CommitNew, Find
	require.NoError(t, m.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"k": []byte("encoded_data")}, Created: time.Now(), Expires: future,
	}))
	rec, err := m.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, []byte("encoded_data"), rec.Fields["k"])
	assert.Equal(t, 1, m.Len())
	rec.Fields["k"][0] = 'X' // a copy: the store is not changed
	rec, _ = m.Load(ctx, key)
	assert.Equal(t, []byte("encoded_data"), rec.Fields["k"])

	// CommitUpdated
	_, err = m.Update(ctx, key, store.Change{Set: map[string][]byte{"k": []byte("new_encoded_data")}})
	require.NoError(t, err)
	rec, err = m.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, []byte("new_encoded_data"), rec.Fields["k"])
	assert.ErrorIs(t, m.Create(ctx, key, store.Record{Fields: rec.Fields, Expires: future}), store.ErrExists)

	// Expiry: a record past its expiry is gone for Load and Update.
	expired := store.Key("expired_token")
	require.NoError(t, m.Create(ctx, expired, store.Record{
		Fields: map[string][]byte{"k": []byte("x")}, Created: time.Now(), Expires: time.Now().Add(-time.Millisecond),
	}))
	_, err = m.Load(ctx, expired)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = m.Update(ctx, expired, store.Change{Set: map[string][]byte{"k": []byte("y")}})
	assert.ErrorIs(t, err, store.ErrNotFound, "no resurrection")
	_, err = m.Update(ctx, key, store.Change{Expires: time.Now().Add(-time.Millisecond)})
	require.NoError(t, err)
	_, err = m.Load(ctx, key)
	assert.ErrorIs(t, err, store.ErrNotFound, "an expiry moved into the past ends it")
	assert.Zero(t, m.Len())

	// Delete, and deleting a missing key.
	live := store.Key("live_token")
	require.NoError(t, m.Create(ctx, live, store.Record{Fields: map[string][]byte{"k": []byte("x")}, Created: time.Now(), Expires: future}))
	require.NoError(t, m.Delete(ctx, live))
	_, err = m.Load(ctx, live)
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.NoError(t, m.Delete(ctx, live))
	assert.False(t, errors.Is(m.Delete(ctx, store.Key("never")), store.ErrNotFound))
}

// scs re-sends a persistent cookie with the extended expiry as the idle
// timeout slides; ours does so once the extension reaches the engine.
func TestPeerPersistentCookieSlides(t *testing.T) {
	h := newHarness(t, WithIdleTimeout(time.Hour), WithIdentities(&identity.Cookie{Persistent: true}))
	c := h.newSession("foo", "bar")
	require.False(t, c.Expires.IsZero())
	h.clock.Advance(20 * time.Minute)
	_, ok, rec := h.peerGetFoo(c)
	require.True(t, ok)
	again := sidCookie(rec.Result())
	require.NotNil(t, again, "the moved expiry is sent")
	assert.Equal(t, c.Value, again.Value)
	assert.WithinDuration(t, c.Expires.Add(20*time.Minute), again.Expires, time.Second)
}
