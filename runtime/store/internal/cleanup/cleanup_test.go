package cleanup

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// owner stands for a store. It holds a pointer, so the runtime never
// batches it with other tiny objects and runs its cleanups.
type owner struct {
	loop *Loop
}

func TestSweepBatches(t *testing.T) {
	results := []int64{10, 10, 3, 10}
	calls := 0
	n, err := Sweep(context.Background(), 10, func(context.Context) (int64, error) {
		calls++
		return results[calls-1], nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(23), n)
	assert.Equal(t, 3, calls, "a short batch ends the sweep")
}

func TestSweepError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	n, err := Sweep(context.Background(), 10, func(context.Context) (int64, error) {
		calls++
		if calls == 3 {
			return 7, boom
		}
		return 10, nil
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(20), n, "the batches before the failure")
}

func TestSweepPassesContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	_, err := Sweep(ctx, 1, func(ctx context.Context) (int64, error) {
		assert.Equal(t, "v", ctx.Value(key{}))
		return 0, nil
	})
	require.NoError(t, err)
}

func TestLoopSweepsUntilStop(t *testing.T) {
	var calls atomic.Int64
	o := &owner{}
	o.loop = Start(o, time.Millisecond, "eng", nil, func(context.Context) (int64, error) {
		calls.Add(1)
		return 0, nil
	})
	require.Eventually(t, func() bool { return calls.Load() >= 3 }, 10*time.Second, time.Millisecond)
	o.loop.Stop()
	after := calls.Load()
	time.Sleep(20 * time.Millisecond) // twenty intervals
	assert.Equal(t, after, calls.Load(), "no sweep after Stop returned")
	o.loop.Stop() // a second Stop returns at once
}

func TestLoopStopCancelsSweep(t *testing.T) {
	started := make(chan struct{})
	var canceled atomic.Bool
	logged := make(recorder, 10)
	o := &owner{}
	o.loop = Start(o, time.Millisecond, "eng", slog.New(logged), func(ctx context.Context) (int64, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		canceled.Store(true)
		return 0, ctx.Err()
	})
	<-started
	o.loop.Stop()
	assert.True(t, canceled.Load(), "the sweep in progress saw its context canceled")
	assert.Empty(t, logged, "a sweep canceled by Stop is not a failure")
}

func TestLoopLogsFailures(t *testing.T) {
	logged := make(recorder, 10)
	o := &owner{}
	o.loop = Start(o, time.Millisecond, "eng", slog.New(logged), func(context.Context) (int64, error) {
		return 0, errors.New("database away")
	})
	defer o.loop.Stop()
	select {
	case r := <-logged:
		assert.Equal(t, slog.LevelWarn, r.Level)
		assert.Equal(t, "eng: cleanup failed", r.Message)
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		assert.Equal(t, map[string]string{"err": "database away"}, attrs)
	case <-time.After(10 * time.Second):
		t.Fatal("no failure logged")
	}
}

func TestLoopWithoutInterval(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		o := &owner{}
		o.loop = Start(o, d, "eng", nil, func(context.Context) (int64, error) {
			t.Error("sweep called without an interval")
			return 0, nil
		})
		assert.Nil(t, o.loop.stop, "no goroutine for interval %v", d)
		o.loop.Stop()
		o.loop.Stop()
	}
}

func TestLoopStopConcurrent(t *testing.T) {
	o := &owner{}
	o.loop = Start(o, time.Millisecond, "eng", nil, func(context.Context) (int64, error) { return 0, nil })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(o.loop.Stop)
	}
	wg.Wait()
	assert.True(t, isClosed(o.loop.done), "the goroutine has ended when every Stop has returned")
}

// TestLoopStopsWithOwner: an owner dropped without Stop still ends the
// goroutine once it is collected.
func TestLoopStopsWithOwner(t *testing.T) {
	var calls atomic.Int64
	// The owner is reachable only inside this function.
	done := func() <-chan struct{} {
		o := &owner{}
		o.loop = Start(o, time.Millisecond, "eng", nil, func(context.Context) (int64, error) {
			calls.Add(1)
			return 0, nil
		})
		return o.loop.done
	}()
	require.Eventually(t, func() bool { return calls.Load() > 0 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		runtime.GC()
		return isClosed(done)
	}, 10*time.Second, 5*time.Millisecond, "the goroutine ends when its owner is collected")
}

// isClosed reports whether ch is closed (or has a value ready).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// recorder is a slog.Handler passing on the records logged through it,
// as long as there is room in the channel.
type recorder chan slog.Record

func (h recorder) Enabled(context.Context, slog.Level) bool { return true }

func (h recorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r:
	default:
	}
	return nil
}

func (h recorder) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h recorder) WithGroup(string) slog.Handler { return h }
