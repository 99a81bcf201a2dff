package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOnResponseOneEngineCallPerRequest(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	c := h.newSession("a", 1)
	require.Equal(t, int64(1), h.store.calls(), "a new session: one Create")

	before := h.store.calls()
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		require.NoError(t, s.Set(ctx, "b", 2))
		require.NoError(t, s.Set(ctx, "c", 3))
		require.NoError(t, s.Remove(ctx, "a"))
		require.NoError(t, s.Set(ctx, "b", 22))
		require.NoError(t, s.SetRawFields(ctx, []Field{{Key: "d", Value: []byte{4}}}))
		assert.Equal(t, before, h.store.calls(), "nothing sent yet")

		v, ok, err := Value[int](s, "b")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 22, v, "the request sees its own pending changes")
		_, ok, _ = s.Raw("a")
		assert.False(t, ok)
		assert.Equal(t, []string{"b", "c", "d"}, s.Keys())
		assert.Equal(t, 2*3, s.Size())

		er, err := h.engineRecord(c)
		require.NoError(t, err)
		assert.Contains(t, er.Fields, "a")
		assert.NotContains(t, er.Fields, "b")
		_, _ = io.WriteString(w, "done")
	}, c)
	assert.Equal(t, before+1, h.store.calls(), "exactly one engine call")
	assert.Equal(t, int64(1), h.store.updates.Load())
	ch := h.store.changes()[0]
	assert.Len(t, ch.Set, 3)
	assert.Equal(t, []string{"a"}, ch.Remove)

	er, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Equal(t, []byte{22}, er.Fields["b"])
	assert.NotContains(t, er.Fields, "a")
}

func TestOnResponseNewSessionOneCreate(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	var id string
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "a", 1))
		require.NoError(t, s.Set(r.Context(), "b", 2))
		id = s.ID()
		assert.NotEmpty(t, id)
		assert.Zero(t, h.store.calls())
	})
	assert.Equal(t, int64(1), h.store.creates.Load())
	assert.Equal(t, int64(1), h.store.calls())
	c := sidCookie(rec.Result())
	require.NotNil(t, c)
	assert.Equal(t, id, c.Value)
}

func TestOnResponseSetThenRemoveAllCreatesNothing(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "a", 1))
		require.NoError(t, s.Remove(r.Context(), "a"))
	})
	assert.Zero(t, h.store.calls())
	assert.Nil(t, sidCookie(rec.Result()))
}

func TestImmediateEachChangeReachesEngineBeforeReturn(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "b", 2))
		er, err := h.engineRecord(c)
		require.NoError(t, err)
		assert.Contains(t, er.Fields, "b")
		require.NoError(t, s.Remove(r.Context(), "a"))
		er, err = h.engineRecord(c)
		require.NoError(t, err)
		assert.NotContains(t, er.Fields, "a")
	}, c)
	assert.Equal(t, int64(2), h.store.updates.Load())
	for _, ch := range h.store.changes() {
		assert.LessOrEqual(t, len(ch.Set)+len(ch.Remove), 1, "per-field writes")
	}
}

func TestFlushFailureBecomesErrorResponse(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	c := h.newSession("a", 1)
	h.store.failOn("update", errInjected)
	var wrote error
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "b", 2))
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Handler", "yes")
		w.WriteHeader(http.StatusOK)
		_, wrote = io.WriteString(w, "<p>saved!</p>")
	}, c)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "saved!")
	assert.Empty(t, rec.Header().Get("X-Handler"), "the handler's headers were dropped")
	assert.Error(t, wrote, "the handler learns its output was discarded")

	logs := h.log.String()
	assert.Equal(t, 1, strings.Count(logs, "\n"), "one log line: %s", logs)
	assert.Contains(t, logs, errInjected.Error())
	assert.Contains(t, logs, "level=ERROR")
	assert.NotContains(t, logs, c.Value)

	h.store.failOn("update", nil)
	er, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.NotContains(t, er.Fields, "b")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, []string{"a"}, s.Keys(), "the cache did not take the failed change")
	}, c)
}

func TestFlushFailureOnCreate(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	h.store.failOn("create", errInjected)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "a", 1))
	})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Nil(t, sidCookie(rec.Result()), "no cookie for a session that does not exist")
	assert.Contains(t, h.log.String(), errInjected.Error())
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	h := newHarness(t, WithFlushMode(OnResponse), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		assert.NotNil(t, FromContext(r.Context()), "the handler sees the request with its session")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "try later")
	}))
	c := h.newSession("a", 1)
	h.store.failOn("update", errInjected)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "b", 2))
	}, c)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "try later", rec.Body.String())
	require.ErrorIs(t, got, errInjected)
}

func TestLoadFailure(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	h2 := newHarnessOn(t, h.store.Store) // empty cache: must load
	h2.store.failOn("load", errInjected)
	rec := h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := Value[int](s, "a")
		require.ErrorIs(t, err, errInjected)
		assert.Equal(t, "", s.ID())
		err = s.Set(r.Context(), "b", 2)
		require.ErrorIs(t, err, errInjected, "no write may replace a session that could not be read")
		require.ErrorIs(t, s.Destroy(r.Context()), errInjected)
		require.ErrorIs(t, s.Renew(r.Context()), errInjected)
		_, _ = io.WriteString(w, "handler ignored the error")
	}, c)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "ignored")
	assert.Nil(t, sidCookie(rec.Result()), "the client keeps its cookie")
	logs := h2.log.String()
	assert.Equal(t, 1, strings.Count(logs, "\n"), "one log line: %s", logs)
	assert.NotContains(t, logs, c.Value)
	assert.Equal(t, int64(0), h2.store.creates.Load())
	assert.Equal(t, int64(1), h2.store.loads.Load(), "the failure is remembered for the request")
}

func TestImmediateWriteFailureIsReturned(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	h.store.failOn("update", errInjected)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		err := s.Set(r.Context(), "b", 2)
		require.ErrorIs(t, err, errInjected)
		assert.Contains(t, err.Error(), `session: set "b"`)
		assert.Equal(t, []string{"a"}, s.Keys(), "nothing changed")
		w.WriteHeader(http.StatusConflict)
	}, c)
	assert.Equal(t, http.StatusConflict, rec.Code, "the handler had the error and answered itself")
}

func TestExtensionFailureIsReportedNotFatal(t *testing.T) {
	var reported error
	h := newHarness(t, WithErrorReporter(func(ctx context.Context, err error) { reported = err }))
	c := h.newSession("a", 1)
	h.clock.Advance(DefaultIdleTimeout / 2)
	h.store.failOn("update", errInjected)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := Value[int](s, "a")
		require.NoError(t, err)
		require.True(t, ok)
		_, _ = io.WriteString(w, "fine")
	}, c)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "fine", rec.Body.String())
	require.ErrorIs(t, reported, errInjected)
	assert.Contains(t, h.log.String(), "extend expiry")
}

func TestErrorResponseThroughRealServer(t *testing.T) {
	h := newHarness(t, WithFlushMode(OnResponse))
	c := h.newSession("a", 1)
	h.store.failOn("update", errInjected)
	srv := httptest.NewServer(h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, FromContext(r.Context()).Set(r.Context(), "b", 2))
		w.Header().Set("Content-Length", "100")
		_ = http.NewResponseController(w).Flush()
		_, err := io.WriteString(w, strings.Repeat("x", 100))
		assert.True(t, errors.Is(err, errDiscarded))
	})))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err, "a well-formed response despite the handler's Content-Length")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, "Internal Server Error\n", string(body))
}

func TestLoadFailureAfterHeadersIsLogged(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	h2 := newHarnessOn(t, h.store.Store)
	h2.store.failOn("load", errInjected)
	rec := h2.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _ = io.WriteString(w, "streaming")
		_, _, err := Value[int](s, "a")
		require.ErrorIs(t, err, errInjected)
		assert.Equal(t, `session: get "a": load: `+errInjected.Error(), err.Error())
	}, c)
	assert.Equal(t, "streaming", rec.Body.String())
	logs := h2.log.String()
	assert.Equal(t, 1, strings.Count(logs, "\n"), "one log line: %s", logs)
	assert.Contains(t, logs, errInjected.Error())
}
