// Package cleanup runs the periodic deletion of expired sessions for the
// engines that keep expiry in a column (pgstore, mysqlstore): a goroutine
// that sweeps at a fixed interval until it is stopped, or until the store
// that started it is garbage collected. It imports no database driver; an
// engine hands it a sweep function.
package cleanup

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Sweep deletes expired sessions a batch at a time: it calls deleteBatch,
// which deletes at most batch sessions and reports how many it deleted,
// until a call deletes fewer than batch. It returns the total; after an
// error, the total of the batches before it and the error, unwrapped.
func Sweep(ctx context.Context, batch int64, deleteBatch func(context.Context) (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := deleteBatch(ctx)
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// Loop is a background goroutine calling a sweep function at a fixed
// interval. Make one with [Start]; a Loop whose interval was zero or
// negative runs nothing.
type Loop struct {
	stop    chan struct{} // closed to stop the goroutine; nil when none runs
	done    chan struct{} // closed when the goroutine has ended
	cleanup runtime.Cleanup
	once    sync.Once
}

// Start starts a goroutine calling sweep every interval until [Loop.Stop],
// and returns its Loop. A sweep failure is logged to logger at level Warn
// as "<engine>: cleanup failed", unless the loop is stopping. A sweep in
// progress is canceled by Stop. A nil logger means slog.Default().
//
// owner is the store the loop works for: when it becomes unreachable
// without Stop having been called, the goroutine stops too. sweep must
// therefore not reference owner (nor anything holding it). With an
// interval of zero or less Start starts no goroutine.
func Start[T any](owner *T, interval time.Duration, engine string, logger *slog.Logger, sweep func(context.Context) (int64, error)) *Loop {
	l := &Loop{done: make(chan struct{})}
	if interval <= 0 {
		close(l.done)
		return l
	}
	if logger == nil {
		logger = slog.Default()
	}
	l.stop = make(chan struct{})
	go run(interval, engine, logger, sweep, l.stop, l.done)
	// A store dropped without Close still stops its goroutine.
	l.cleanup = runtime.AddCleanup(owner, func(stop chan struct{}) { close(stop) }, l.stop)
	return l
}

// Stop stops the goroutine, canceling a sweep in progress, and waits for
// it to end. It may be called more than once, also concurrently.
func (l *Loop) Stop() {
	l.once.Do(func() {
		if l.stop != nil {
			l.cleanup.Stop()
			close(l.stop)
		}
	})
	<-l.done
}

// run sweeps every interval until stop is closed, then closes done. It is
// a function, not a method, so the goroutine holds neither the Loop nor
// its owner.
func run(interval time.Duration, engine string, logger *slog.Logger, sweep func(context.Context) (int64, error), stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := sweep(ctx); err != nil && ctx.Err() == nil {
				logger.Warn(engine+": cleanup failed", "err", err)
			}
		}
	}
}
