package session

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

func TestUntouchedSessionCostsNothing(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	before := h.store.calls()

	for _, cookie := range []*http.Cookie{nil, c} {
		rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			require.NotNil(t, s)
			_, _ = io.WriteString(w, "hello")
		}, cookie)
		assert.Equal(t, "hello", rec.Body.String())
		assert.Empty(t, rec.Header().Values("Set-Cookie"))
		assert.Empty(t, rec.Header().Get("Cache-Control"))
	}
	assert.Equal(t, before, h.store.calls(), "no engine call for requests that never use their session")
}

func TestNewSessionReachesEngineOnlyOnFirstSet(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, "", s.ID())
		_, ok, err := Value[int](s, "k")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Empty(t, s.Keys())
		require.NoError(t, s.Remove(r.Context(), "k"))
		assert.Zero(t, h.store.calls(), "reads and removes of a new session touch no engine")
		require.NoError(t, s.Set(r.Context(), "k", 1))
		assert.Equal(t, int64(1), h.store.creates.Load())
		assert.True(t, identity.ValidID(s.ID()))
	})
	assert.Equal(t, int64(1), h.store.calls(), "a new session costs exactly one engine call")
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	assert.True(t, identity.ValidID(c.Value))
}

func TestCookieDefaults(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 1))
	})
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.False(t, c.Secure, "plain HTTP without ForceSecure")
	assert.Zero(t, c.MaxAge, "browser-session cookie by default")
	assert.Contains(t, rec.Header().Get("Cache-Control"), `no-cache="Set-Cookie"`)
	assert.Contains(t, rec.Header().Values("Vary"), "Cookie")
}

func TestCookieSecureOverTLS(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	srv := httptest.NewTLSServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromContext(r.Context()).Set(r.Context(), "k", 1))
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	c := sidCookie(resp)
	require.NotNil(t, c)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
}

// earlyWriters are handlers that start the response in different ways
// right after a Set of a new session.
var earlyWriters = map[string]func(w http.ResponseWriter){
	"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
	"Write":       func(w http.ResponseWriter) { _, _ = io.WriteString(w, "body") },
	"Flusher":     func(w http.ResponseWriter) { w.(http.Flusher).Flush() },
	"ResponseController.Flush": func(w http.ResponseWriter) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
	},
	"ReadFrom": func(w http.ResponseWriter) { _, _ = io.Copy(w, strings.NewReader("copied")) },
	"nothing":  func(w http.ResponseWriter) {},
}

func TestCookieWrittenBeforeFirstByte(t *testing.T) {
	for name, start := range earlyWriters {
		t.Run(name, func(t *testing.T) {
			m, err := New()
			require.NoError(t, err)
			var setAfter error
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := FromContext(r.Context())
				require.NoError(t, s.Set(r.Context(), "k", 1))
				start(w)
				_, _ = io.WriteString(w, "more")
				setAfter = s.Set(r.Context(), "k2", 2)
			})))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			require.NoError(t, err)
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			c := sidCookie(resp)
			require.NotNil(t, c, "the cookie went out with the headers")
			assert.True(t, identity.ValidID(c.Value))
			require.NoError(t, setAfter, "a Set on an existing session after the headers is written immediately")
		})
	}
}

func TestNewSessionAfterHeadersIsRefused(t *testing.T) {
	h := newHarness(t)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		w.WriteHeader(http.StatusOK)
		err := s.Set(r.Context(), "k", 1)
		require.ErrorIs(t, err, ErrHeadersWritten)
		assert.Empty(t, s.Keys())
	})
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
	assert.Zero(t, h.store.calls())
}

func TestHijackFlushesSessionFirst(t *testing.T) {
	h := newHarness(t)
	cookie := h.newSession("k", 1)
	hijacked := make(chan error, 1)
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		require.NoError(t, s.Set(r.Context(), "during", "hijack"))
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			hijacked <- err
			return
		}
		defer conn.Close()
		cookieLine := w.Header().Get("Set-Cookie")
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-Cookie: " +
			strings.ReplaceAll(cookieLine, "\r\n", "") + "\r\n\r\nok")
		_ = buf.Flush()
		hijacked <- nil
	})))
	defer srv.Close()

	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, <-hijacked)
	assert.Equal(t, "ok", string(body))

	rec, err := h.engineRecord(cookie)
	require.NoError(t, err)
	assert.Contains(t, rec.Fields, "during")
}

func TestHijackOnRecorderIsNotSupported(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := http.NewResponseController(w).Hijack()
		require.ErrorIs(t, err, http.ErrNotSupported)
		_, ok := w.(http.Hijacker)
		assert.True(t, ok)
	})
}

func TestUnwrapReachesUnderlyingWriter(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		require.True(t, ok)
		_, isRecorder := u.Unwrap().(*httptest.ResponseRecorder)
		assert.True(t, isRecorder)
	})
}

func TestInformationalStatusDoesNotStartResponse(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		require.NoError(t, FromContext(r.Context()).Set(r.Context(), "k", 1),
			"the session can still be created after a 103")
		w.WriteHeader(http.StatusOK)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotNil(t, sidCookie(resp))
}

func TestHandlerPanicPropagatesWithoutFlushing(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	handler := h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromContext(r.Context()).Set(r.Context(), "k", 1))
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	assert.PanicsWithValue(t, "boom", func() {
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	})
	assert.Zero(t, h.store.calls(), "a panicking handler's pending changes are not sent")
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
}

func TestSessionVisibleInDerivedContexts(t *testing.T) {
	h := newHarness(t)
	type other struct{}
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx, cancel := context.WithCancel(context.WithValue(r.Context(), other{}, 7))
		defer cancel()
		assert.Same(t, s, FromContext(ctx))
		assert.Equal(t, 7, ctx.Value(other{}))
	})
}

func TestHandlerNilNextPanics(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	assert.Panics(t, func() { m.Handler(nil) })
}

// writerWithoutExtras is a bare http.ResponseWriter: no Flush, Hijack or
// ReadFrom.
type writerWithoutExtras struct{ rec *httptest.ResponseRecorder }

func (w writerWithoutExtras) Header() http.Header         { return w.rec.Header() }
func (w writerWithoutExtras) Write(b []byte) (int, error) { return w.rec.Write(b) }
func (w writerWithoutExtras) WriteHeader(code int)        { w.rec.WriteHeader(code) }

func TestBareUnderlyingWriter(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromContext(r.Context()).Set(r.Context(), "k", 1))
		n, err := io.Copy(w, strings.NewReader("abc"))
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		assert.ErrorIs(t, http.NewResponseController(w).Flush(), http.ErrNotSupported)
	})).ServeHTTP(writerWithoutExtras{rec}, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, "abc", rec.Body.String())
	assert.NotNil(t, sidCookie(rec.Result()))
}
