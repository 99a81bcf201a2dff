package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// errAnswerLost is what an engine client reports when the connection
// broke after the call was sent: the engine may have applied it.
var errAnswerLost = errors.New("read tcp: connection reset by peer")

// landsThenFails is a real engine whose Update, Move and Delete, once armed,
// apply the change and then report errAnswerLost, as a client does whose
// connection broke before the answer came back.
type landsThenFails struct {
	store.Store
	armed atomic.Bool
}

func (l *landsThenFails) Version(ctx context.Context, key string) (uint64, error) {
	return l.Store.(store.Versioner).Version(ctx, key)
}

func (l *landsThenFails) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	v, err := l.Store.Update(ctx, key, c)
	if err == nil && l.armed.CompareAndSwap(true, false) {
		return 0, errAnswerLost
	}
	return v, err
}

func (l *landsThenFails) Delete(ctx context.Context, key string) error {
	err := l.Store.Delete(ctx, key)
	if err == nil && l.armed.CompareAndSwap(true, false) {
		return errAnswerLost
	}
	return err
}

func (l *landsThenFails) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	rec, err := l.Store.Move(ctx, from, to, c)
	if err == nil && l.armed.CompareAndSwap(true, false) {
		return store.Record{}, errAnswerLost
	}
	return rec, err
}

// lossySession returns a manager on a landsThenFails engine (not armed)
// and the cookie of a session holding n = 1.
func lossySession(t *testing.T) (*landsThenFails, *harness, *http.Cookie) {
	t.Helper()
	eng := &landsThenFails{Store: sharedEngine(t)}
	h := newHarnessOn(t, eng)
	return eng, h, h.newSession("n", 1)
}

// A write whose outcome is unknown (the engine applied it, the answer was
// lost) fails the request, and the next request reads what the engine
// holds, not the cached copy from before the write: the cache never
// serves a state the engine has moved past.
func TestUnknownOutcomeRereads(t *testing.T) {
	eng, h, c := lossySession(t)

	eng.armed.Store(true)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		err := s.Set(r.Context(), "n", 2)
		require.ErrorIs(t, err, errAnswerLost)
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	require.Contains(t, rec.Fields, "n", "the engine applied the write")

	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, ok, err := Value[int](s, "n")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 2, n, "the next request reads the engine's value, not the cached one")
		// And a compare-and-set built on that read lands.
		_, err = Update(r.Context(), s, "n", func(n int, _ bool) (int, error) { return n + 1, nil })
		require.NoError(t, err)
	}, c)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, _, err := Value[int](s, "n")
		require.NoError(t, err)
		assert.Equal(t, 3, n)
	}, c)
}

// A renewal whose outcome is unknown (the engine moved the session, the
// answer was lost) fails, and the old ID no longer serves the cached
// copy: the engine has nothing under it.
func TestUnknownOutcomeRenew(t *testing.T) {
	eng, h, c := lossySession(t)

	eng.armed.Store(true)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.ErrorIs(t, s.Renew(r.Context()), errAnswerLost)
	}, c)
	_, err := h.engineRecord(c)
	require.ErrorIs(t, err, store.ErrNotFound, "the engine moved the session away")

	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, ok, err := s.Raw("n")
		require.NoError(t, err)
		assert.False(t, ok, "the old ID serves the cached copy of a session the engine moved")
	}, c)
}

// A Destroy or a Revoke whose outcome is unknown (the engine ended the
// session, the answer was lost) fails, and the next request is not
// served the session from the cache: the engine has ended it.
func TestUnknownOutcomeEnd(t *testing.T) {
	for _, op := range []string{"destroy", "revoke"} {
		t.Run(op, func(t *testing.T) {
			eng, h, c := lossySession(t)

			eng.armed.Store(true)
			if op == "destroy" {
				h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					require.ErrorIs(t, s.Destroy(r.Context()), errAnswerLost)
				}, c)
			} else {
				require.ErrorIs(t, h.m.Revoke(context.Background(), store.Key(c.Value)), errAnswerLost)
			}
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				_, ok, err := s.Raw("n")
				require.NoError(t, err)
				assert.False(t, ok, "the cache serves a session the engine ended")
			}, c)
		})
	}
}

// failsUnsent is a real engine whose Update, once armed, fails with
// err without calling the engine.
type failsUnsent struct {
	store.Store
	err   error
	armed atomic.Bool
}

func (f *failsUnsent) Version(ctx context.Context, key string) (uint64, error) {
	return f.Store.(store.Versioner).Version(ctx, key)
}

func (f *failsUnsent) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if f.armed.Load() {
		return 0, f.err
	}
	return f.Store.Update(ctx, key, c)
}

// A write that never reached the engine (the dial failed, or the engine
// says it was not sent) changed nothing: the cached copy is still the
// engine's, and the next read is served from it without an engine call,
// as during an outage.
func TestUnsentWriteKeepsTheCache(t *testing.T) {
	for name, err := range map[string]error{
		"dial failed": fmt.Errorf("enginename: update: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
		"not sent":    fmt.Errorf("enginename: update: %w: guard: pipeline refused", store.ErrNotSent),
	} {
		t.Run(name, func(t *testing.T) {
			eng := &failsUnsent{Store: sharedEngine(t), err: err}
			h := newHarnessOn(t, eng)
			c := h.newSession("n", 1)

			eng.armed.Store(true)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.Error(t, s.Set(r.Context(), "n", 2))
			}, c)
			calls := func() int64 { return h.store.calls() + h.store.versions.Load() }
			before := calls()
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				n, ok, err := Value[int](s, "n")
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, 1, n)
			}, c)
			assert.Equal(t, before, calls(), "the read is served from the cache, with no engine call")
		})
	}
}

// Two nodes share an engine and a bus. When node A's write or Destroy
// fails with its outcome unknown (the engine applied it, the answer was
// lost), node B, which had the session cached, does not go on serving
// its old copy: A tells the other nodes to read the session again.
func TestUnknownOutcomeReachesOtherNodes(t *testing.T) {
	for _, op := range []string{"set", "destroy"} {
		t.Run(op, func(t *testing.T) {
			eng := &landsThenFails{Store: sharedEngine(t)}
			b := bus.NewLocal()
			a := newNode(t, eng, b, "a")
			other := newNode(t, eng, b, "b")
			c := a.newSession("n", 1)
			read := func() (int, bool) {
				var n int
				var ok bool
				other.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
					var err error
					n, ok, err = Value[int](s, "n")
					require.NoError(t, err)
				}, c)
				return n, ok
			}
			n, ok := read()
			require.True(t, ok)
			require.Equal(t, 1, n, "node B has the session cached")
			loads := other.store.loads.Load()
			n, _ = read()
			require.Equal(t, 1, n)
			require.Equal(t, loads, other.store.loads.Load(), "node B serves it from its cache")

			eng.armed.Store(true)
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				if op == "set" {
					require.ErrorIs(t, s.Set(r.Context(), "n", 2), errAnswerLost)
				} else {
					require.ErrorIs(t, s.Destroy(r.Context()), errAnswerLost)
				}
			}, c)
			eventually(t, "node B to stop serving its copy from before the "+op, func() bool {
				n, ok := read()
				if op == "set" {
					return ok && n == 2
				}
				return !ok
			})
		})
	}
}
