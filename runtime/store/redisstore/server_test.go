package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestServerStopAndRestart kills the server in the middle of a run (while
// a writer keeps going), checks that every operation reports a wrapped
// error and nothing panics, then restarts the server on the same port and
// checks that the same Store works again.
func TestServerStopAndRestart(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	c := client(t, srv, time.Second)
	s, err := redisstore.New(c)
	require.NoError(t, err)
	ctx := context.Background()
	rec := func() store.Record {
		return store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	}

	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, rec()))
	require.NoError(t, update(ctx, s, key, store.Change{Set: map[string][]byte{"b": []byte("2")}}))

	// A writer that runs through the outage: every answer is success, a
	// sentinel (a session lost with the server's memory) or a wrapped
	// engine error.
	var ok, failed atomic.Int64
	var badMu sync.Mutex
	var bad []error
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k := storetest.NewKey(t)
			errs := []error{s.Create(ctx, k, rec())}
			errs = append(errs, update(ctx, s, k, store.Change{Set: map[string][]byte{"w": []byte("x")}}))
			_, lerr := s.Load(ctx, k)
			errs = append(errs, lerr, s.Delete(ctx, k))
			allOK := true
			for _, err := range errs {
				if err == nil || errors.Is(err, store.ErrNotFound) {
					continue
				}
				allOK = false
				if !strings.HasPrefix(err.Error(), "redisstore: ") {
					badMu.Lock()
					bad = append(bad, err)
					badMu.Unlock()
				}
			}
			if allOK {
				ok.Add(1)
			} else {
				failed.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	waitFor(t, "writer succeeding before the outage", func() bool { return ok.Load() >= 5 })

	srv.Kill()
	enginetest.RequireEngineError(t, update(ctx, s, key, store.Change{Set: map[string][]byte{"c": []byte("3")}}), "redisstore", "update")
	_, err = s.Load(ctx, key)
	enginetest.RequireEngineError(t, err, "redisstore", "load")
	enginetest.RequireEngineError(t, s.Create(ctx, storetest.NewKey(t), rec()), "redisstore", "create")
	enginetest.RequireEngineError(t, s.Delete(ctx, key), "redisstore", "delete")
	waitFor(t, "writer failing during the outage", func() bool { return failed.Load() >= 3 })

	srv.Restart()
	// The restarted server kept nothing (no persistence): the old session
	// is gone, and the Store, never re-created, works again.
	waitFor(t, "the old session to read as not found", func() bool {
		_, err := s.Load(ctx, key)
		return errors.Is(err, store.ErrNotFound)
	})
	require.ErrorIs(t, update(ctx, s, key, store.Change{Set: map[string][]byte{"c": []byte("3")}}), store.ErrNotFound)
	fresh := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, fresh, rec()))
	require.NoError(t, update(ctx, s, fresh, store.Change{Set: map[string][]byte{"b": []byte("2")}}))
	got, err := s.Load(ctx, fresh)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, got.Fields)

	before := ok.Load()
	waitFor(t, "writer succeeding after the restart", func() bool { return ok.Load() >= before+5 })
	close(stop)
	<-done
	badMu.Lock()
	assert.Empty(t, bad, "errors without the engine prefix")
	badMu.Unlock()
	t.Logf("writer: %d clean cycles, %d cycles with engine errors", ok.Load(), failed.Load())
}

// TestContextDeadline pauses the server so commands hang, and checks that
// each operation gives up at its context's deadline with a wrapped
// context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	c := client(t, srv, 10*time.Second) // only the context may end the wait
	s, err := redisstore.New(c)
	require.NoError(t, err)
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}))
	require.NoError(t, update(ctx, s, key, store.Change{}), "warm up the script")

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	// The pause ends by itself: while it lasts, even CLIENT UNPAUSE waits.
	const pause = 1500 * time.Millisecond
	paused := time.Now()
	require.NoError(t, admin.ClientPause(ctx, pause).Err())

	// Load and Update only: the checks must end within the pause.
	ops := slices.DeleteFunc(enginetest.Ops(t, s, key), func(op enginetest.Op) bool {
		return op.Name != "load" && op.Name != "update"
	})
	require.Len(t, ops, 2)
	enginetest.RequireDeadlines(t, "redisstore", ops, 200*time.Millisecond, time.Second)
	require.Less(t, time.Since(paused), pause, "the checks must run while the server is paused")

	_, err = s.Load(ctx, key)
	require.NoError(t, err, "the Store works once the server answers again")
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
