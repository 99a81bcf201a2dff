package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// cutProxy forwards TCP connections to a Redis server. Once armed, the
// first connection that forwards a script call (EVALSHA or EVAL) loses
// the server's answer to it: the proxy closes the connection instead of
// passing the answer on. The server has run the call; the client sees
// the connection end (EOF), the case in which go-redis would send the
// command again by itself.
type cutProxy struct {
	ln    net.Listener
	up    string
	armed atomic.Bool
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

// startCutProxy listens on a free local port for connections to up,
// until the test ends.
func startCutProxy(t *testing.T, up string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, up: up}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

// addr is where clients connect.
func (p *cutProxy) addr() string { return p.ln.Addr().String() }

// accept serves connections until the listener closes.
func (p *cutProxy) accept() {
	var conns sync.WaitGroup
	defer conns.Wait()
	var open []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.up)
		if err != nil {
			_ = down.Close()
			continue
		}
		mu.Lock()
		open = append(open, down, up)
		mu.Unlock()
		conns.Go(func() { p.serve(down, up) })
	}
}

// serve forwards one connection both ways, cutting it as described at
// cutProxy.
func (p *cutProxy) serve(down, up net.Conn) {
	defer down.Close()
	defer up.Close()
	var doomed atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := down.Read(buf)
			if n > 0 {
				lower := bytes.ToLower(buf[:n])
				if p.armed.Load() && (bytes.Contains(lower, []byte("evalsha")) || bytes.Contains(lower, []byte("\r\neval\r\n"))) {
					doomed.Store(true)
				}
				if _, werr := up.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = up.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if doomed.Load() && p.armed.CompareAndSwap(true, false) {
				p.cuts.Add(1)
				return // the answer is dropped; the deferred closes cut both sides
			}
			if _, werr := down.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestNoResendAfterCut: when the connection fails after a script call was
// sent, the server may have run it, and the store must not let go-redis
// send it again (its default, MaxRetries 3): run twice, an Update with
// expectations would report its own first run as a conflict, a plain
// one would bump the version twice, a Create would find its own session
// (ErrExists) and a Move its old key gone (ErrNotFound). Each such call
// fails with the network's error instead, and the engine holds its
// change exactly once; the store serves the next call as usual.
func TestNoResendAfterCut(t *testing.T) {
	addr := serverAddr(t)
	admin := newClient(t, addr)
	prefix := testPrefix(t, admin)
	p := startCutProxy(t, addr)
	c := redis.NewClient(&redis.Options{Addr: p.addr(), ContextTimeoutEnabled: true}) // default retries
	t.Cleanup(func() { _ = c.Close() })
	s := newStore(t, c, prefix)
	ctx := context.Background()

	// cut arms the proxy, runs f and asserts that it failed as a network
	// failure (no store verdict) after exactly one cut.
	cut := func(t *testing.T, what string, f func() error) {
		t.Helper()
		before := p.cuts.Load()
		p.armed.Store(true)
		err := f()
		p.armed.Store(false)
		require.Equal(t, before+1, p.cuts.Load(), "%s: the proxy cut the script call", what)
		require.Error(t, err, "%s: its answer never came", what)
		for _, verdict := range []error{store.ErrConflict, store.ErrExists, store.ErrNotFound, store.ErrTooLarge} {
			require.NotErrorIs(t, err, verdict, "%s: it was run again", what)
		}
		assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isNetErr(err),
			"%s: a network error, got %v", what, err)
	}
	requireSession := func(t *testing.T, key, n string, version uint64) {
		t.Helper()
		rec, err := s.Load(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, n, string(rec.Fields["n"]))
		assert.Equal(t, version, rec.Version, "the change ran exactly once")
	}

	t.Run("UpdateWithExpectation", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("n", "1")))
		cut(t, "update", func() error {
			_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"n": []byte("2")}, Expect: map[string][]byte{"n": []byte("1")}})
			return err
		})
		requireSession(t, key, "2", 2)
		v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"n": []byte("3")}, Expect: map[string][]byte{"n": []byte("2")}})
		require.NoError(t, err, "the next Update goes through")
		assert.Equal(t, uint64(3), v)
	})
	t.Run("Create", func(t *testing.T) {
		key := storetest.NewKey(t)
		cut(t, "create", func() error { return s.Create(ctx, key, enginetest.LiveRecord("n", "1")) })
		requireSession(t, key, "1", 1)
	})
	t.Run("Move", func(t *testing.T) {
		from, to := storetest.NewKey(t), storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, from, enginetest.LiveRecord("n", "1")))
		cut(t, "move", func() error {
			_, err := s.Move(ctx, from, to, store.Change{Expires: enginetest.LiveRecord().Expires})
			return err
		})
		requireSession(t, to, "1", 1)
		_, err := s.Load(ctx, from)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("Group", func(t *testing.T) {
		a, b := storetest.NewKey(t), storetest.NewKey(t)
		for _, k := range []string{a, b} {
			require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("n", "1")))
		}
		change := store.Change{Set: map[string][]byte{"n": []byte("2")}, Expect: map[string][]byte{"n": []byte("1")}}
		var errs []error
		cut(t, "group", func() error {
			_, errs = redisstore.SendGroup(ctx, s, []redisstore.GroupOp{{Key: a, Change: change}, {Key: b, Change: change}})
			require.Len(t, errs, 2)
			return errs[0]
		})
		require.Error(t, errs[1], "the group's second Update lost its answer too")
		for _, verdict := range []error{store.ErrConflict, store.ErrNotFound} {
			require.NotErrorIs(t, errs[1], verdict, "the group was run again")
		}
		for _, k := range []string{a, b} {
			requireSession(t, k, "2", 2)
		}
	})
}

// isNetErr reports whether err is a network error.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
