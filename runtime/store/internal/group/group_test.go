package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate is a send function that records each group and, while held,
// blocks every group until released.
type gate struct {
	mu      sync.Mutex
	groups  [][]int
	entered chan int      // receives each group's size as it starts
	release chan struct{} // each group waits for one value, when held
	held    bool
}

func newGate(held bool) *gate {
	return &gate{entered: make(chan int, 100), release: make(chan struct{}, 100), held: held}
}

// send fails the odd items and succeeds the even ones.
func (g *gate) send(ctx context.Context, items []int) []error {
	g.mu.Lock()
	g.groups = append(g.groups, append([]int(nil), items...))
	g.mu.Unlock()
	g.entered <- len(items)
	if g.held {
		<-g.release
	}
	errs := make([]error, len(items))
	for i, it := range items {
		if it%2 == 1 {
			errs[i] = fmt.Errorf("item %d refused", it)
		}
	}
	return errs
}

func (g *gate) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n []int
	for _, grp := range g.groups {
		n = append(n, len(grp))
	}
	return n
}

// waitQueued waits until c holds n waiting items.
func waitQueued(t *testing.T, c *Committer[int], n int) {
	t.Helper()
	require.Eventually(t, func() bool { return c.Waiting() == n }, 10*time.Second, time.Millisecond, "%d items queued", n)
}

func TestLoneItemGoesAtOnce(t *testing.T) {
	g := newGate(false)
	c := New(64, g.send)
	require.NoError(t, c.Do(context.Background(), 2))
	assert.EqualError(t, c.Do(context.Background(), 3), "item 3 refused")
	assert.Equal(t, []int{1, 1}, g.sizes(), "no group waits for company")
	groups, items := c.Stats()
	assert.Equal(t, uint64(2), groups)
	assert.Equal(t, uint64(2), items)
}

func TestItemsArrivingDuringARoundTripGoTogether(t *testing.T) {
	g := newGate(true)
	c := New(64, g.send)
	first := make(chan error, 1)
	go func() { first <- c.Do(context.Background(), 0) }()
	require.Equal(t, 1, <-g.entered)

	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = c.Do(context.Background(), i+1) })
	}
	waitQueued(t, c, n)
	g.release <- struct{}{}
	require.NoError(t, <-first)
	require.Equal(t, n, <-g.entered, "the ten waiting items go in one group")
	g.release <- struct{}{}
	wg.Wait()
	for i, err := range errs {
		if (i+1)%2 == 1 {
			assert.EqualError(t, err, fmt.Sprintf("item %d refused", i+1), "a failure reaches its own caller only")
		} else {
			assert.NoError(t, err, "item %d", i+1)
		}
	}
	assert.Equal(t, []int{1, n}, g.sizes())
}

func TestGroupsNeverExceedTheMaximum(t *testing.T) {
	g := newGate(true)
	c := New(4, g.send)
	go func() { _ = c.Do(context.Background(), 0) }()
	require.Equal(t, 1, <-g.entered)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { _ = c.Do(context.Background(), 2*i) })
	}
	waitQueued(t, c, 10)
	for range 4 {
		g.release <- struct{}{}
	}
	wg.Wait()
	assert.Equal(t, []int{1, 4, 4, 2}, g.sizes())
}

func TestGiveUpWhileWaitingSendsNothing(t *testing.T) {
	g := newGate(true)
	c := New(64, g.send)
	go func() { _ = c.Do(context.Background(), 0) }()
	require.Equal(t, 1, <-g.entered)

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- c.Do(ctx, 42) }()
	kept := make(chan error, 1)
	go func() { kept <- c.Do(context.Background(), 44) }()
	waitQueued(t, c, 2)
	cancel()
	assert.ErrorIs(t, <-gaveUp, context.Canceled)
	g.release <- struct{}{}
	require.Equal(t, 1, <-g.entered)
	g.release <- struct{}{}
	require.NoError(t, <-kept)
	for _, grp := range g.groups {
		assert.NotContains(t, grp, 42, "a withdrawn item is never sent")
	}
	assert.ErrorIs(t, c.Do(ctx, 46), context.Canceled, "a done context sends nothing")
}

func TestGroupContextDoneOnlyWhenEveryCallerGaveUp(t *testing.T) {
	release := make(chan struct{})
	var seen atomic.Pointer[context.Context]
	entered := make(chan struct{}, 10)
	c := New(64, func(ctx context.Context, items []int) []error {
		if len(items) > 1 {
			seen.Store(&ctx)
		}
		entered <- struct{}{}
		<-release
		return make([]error, len(items))
	})
	go func() { _ = c.Do(context.Background(), 0) }()
	<-entered
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Do(ctxA, 1) })
	wg.Go(func() { _ = c.Do(ctxB, 2) })
	waitQueued(t, c, 2)
	release <- struct{}{}
	<-entered
	gctx := *seen.Load()
	cancelA()
	assert.NoError(t, gctx.Err(), "one caller giving up does not cancel its group")
	cancelB()
	require.Eventually(t, func() bool { return gctx.Err() != nil }, 10*time.Second, time.Millisecond,
		"the group's context is done once every caller gave up")
	close(release)
	wg.Wait()
}

func TestWrongResultCountFailsTheItemsWithoutOne(t *testing.T) {
	c := New(64, func(ctx context.Context, items []int) []error { return nil })
	assert.ErrorIs(t, c.Do(context.Background(), 1), errResults)
}

func TestPanicInSendFailsItsGroupAndKeepsGoing(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	var calls atomic.Int32
	c := New(64, func(ctx context.Context, items []int) []error {
		entered <- struct{}{}
		if calls.Add(1) == 2 {
			panic("engine bug")
		}
		<-release
		return make([]error, len(items))
	})
	first := make(chan error, 1)
	go func() { first <- c.Do(context.Background(), 0) }()
	<-entered
	// The next group has a leader (which sees the panic) and a follower
	// (which gets an error instead of hanging).
	var leaderPanic atomic.Value
	follower := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { leaderPanic.Store(fmt.Sprint(recover())) }()
		_ = c.Do(context.Background(), 1)
	})
	waitQueued(t, c, 1)
	go func() { follower <- c.Do(context.Background(), 2) }()
	waitQueued(t, c, 2)
	release <- struct{}{}
	require.NoError(t, <-first)
	err := <-follower
	wg.Wait()
	// Which of the two leads is up to the scheduler: one panicked, the
	// other got the error.
	if p := leaderPanic.Load(); p != "<nil>" {
		assert.Equal(t, "engine bug", p)
		assert.Error(t, err)
	}
	close(release)
	assert.NoError(t, c.Do(context.Background(), 4), "the committer still works")
}

func TestManyCallersEachGetTheirOwnResult(t *testing.T) {
	var inFlight, most atomic.Int32
	c := New(16, func(ctx context.Context, items []int) []error {
		if n := inFlight.Add(1); n > most.Load() {
			most.Store(n)
		}
		defer inFlight.Add(-1)
		time.Sleep(50 * time.Microsecond) // a round trip
		errs := make([]error, len(items))
		for i, it := range items {
			if it%3 == 0 {
				errs[i] = errors.New(fmt.Sprint(it))
			}
		}
		return errs
	})
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Go(func() {
			err := c.Do(context.Background(), i)
			if i%3 == 0 {
				assert.EqualError(t, err, fmt.Sprint(i))
			} else {
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	groups, items := c.Stats()
	assert.Equal(t, uint64(2000), items)
	assert.Less(t, groups, uint64(2000), "some items shared a round trip")
	assert.Equal(t, int32(1), most.Load(), "one group in flight at a time")
}

func TestLanesSendGroupsAtOnce(t *testing.T) {
	g := newGate(true)
	c := NewLanes(64, 2, g.send)
	first := make(chan error, 2)
	go func() { first <- c.Do(context.Background(), 0) }()
	go func() { first <- c.Do(context.Background(), 2) }()
	require.Equal(t, 1, <-g.entered, "a free lane: the item goes at once, alone")
	require.Equal(t, 1, <-g.entered, "the second lane too, while the first is in flight")

	// Both lanes busy: the next items wait, and the first lane to finish
	// takes them all.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { assert.NoError(t, c.Do(context.Background(), 10+2*i)) })
	}
	waitQueued(t, c, 5)
	g.release <- struct{}{}
	require.NoError(t, <-first)
	require.Equal(t, 5, <-g.entered)
	g.release <- struct{}{}
	g.release <- struct{}{}
	require.NoError(t, <-first)
	wg.Wait()
	assert.ElementsMatch(t, []int{1, 1, 5}, g.sizes())
	g.release <- struct{}{} // for the next group, ahead of it
	assert.NoError(t, c.Do(context.Background(), 4), "both lanes free again")
}

func TestLanesManyCallers(t *testing.T) {
	var inFlight, most atomic.Int32
	c := NewLanes(8, 3, func(ctx context.Context, items []int) []error {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		time.Sleep(50 * time.Microsecond) // a round trip
		errs := make([]error, len(items))
		for i, it := range items {
			if it%5 == 0 {
				errs[i] = errors.New(fmt.Sprint(it))
			}
		}
		return errs
	})
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			err := c.Do(context.Background(), i)
			if i%5 == 0 {
				assert.EqualError(t, err, fmt.Sprint(i))
			} else {
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	_, items := c.Stats()
	assert.Equal(t, uint64(1000), items)
	assert.LessOrEqual(t, most.Load(), int32(3), "never more groups in flight than lanes")
	assert.Zero(t, c.Waiting())
}
