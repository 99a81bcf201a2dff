// Package group commits an engine's changes in groups, the way databases
// commit transactions: while one round trip is in flight, the changes of
// other requests that arrive meanwhile wait, and go together in the next
// one (one pipeline, one transaction, one file sync). There is no timer:
// a change that finds no round trip in flight goes at once, alone, so a
// client alone sees the latency of a single change, and the groups grow
// only as the load does.
//
// Each caller returns once its own item is done (durable, or failed):
// the engine's send function reports one result per item, and must not
// let one item's failure (not found, a failed condition, too large) fail
// the others. The engines in this repository use it for their writes.
package group

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Send sends items in one round trip and returns one error per item, in
// order (nil: that item is done). ctx is done only when every caller of
// the group has given up.
type Send[T any] func(ctx context.Context, items []T) []error

// errResults is the error of items a send function gave no result for.
var errResults = errors.New("group: the engine's send returned the wrong number of results")

// Committer runs items through a send function in groups of at most its
// size, with at most its number of lanes of groups in flight at once.
// The zero value is not usable: make one with [New] or [NewLanes]. It is
// safe for concurrent use.
type Committer[T any] struct {
	send  Send[T]
	max   int
	lanes int

	mu       sync.Mutex
	queue    []*call[T] // waiting, oldest first
	inFlight int        // groups being sent, at most lanes

	groups, items atomic.Uint64
}

// call is one caller's item and, once done, its result.
type call[T any] struct {
	ctx  context.Context
	item T
	err  error
	// wake is closed once, when the call is done or when it must lead
	// the next group (lead is then true, and the call has left the
	// queue).
	wake chan struct{}
	lead bool
}

// New returns a committer sending groups of at most size items (size < 1
// counts as 1) through send, one group at a time: while a group is in
// flight, every item that arrives waits for the next.
func New[T any](size int, send Send[T]) *Committer[T] {
	return NewLanes(size, 1, send)
}

// NewLanes returns a committer sending groups of at most size items
// through send, with up to lanes groups in flight at once (lanes < 1
// counts as 1). An item that finds a lane free goes at once, in a group
// of its own; only when every lane is busy do items wait, and the next
// lane to finish takes them all (up to size) in one group. So at low load
// changes go concurrently as without grouping, and under load up to lanes
// round trips (connections, server cores) work at once, each for a group.
// Two groups in flight at once hold items of different callers, so their
// order is that of concurrent calls: undefined. Engines whose groups lock
// rows take them in a fixed (key) order, so that two groups in flight at
// once cannot deadlock each other.
func NewLanes[T any](size, lanes int, send Send[T]) *Committer[T] {
	return &Committer[T]{send: send, max: max(size, 1), lanes: max(lanes, 1)}
}

// Do sends item, in a group with the items of concurrent callers, and
// returns its result. If ctx is done while the item still waits for a
// group, Do withdraws it and returns ctx's error: nothing was sent. Once
// its group is on its way, Do waits for the result.
func (c *Committer[T]) Do(ctx context.Context, item T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := &call[T]{ctx: ctx, item: item, wake: make(chan struct{})}
	c.mu.Lock()
	if c.inFlight < c.lanes {
		c.inFlight++
		k.lead = true
		c.mu.Unlock()
		c.lead(k)
		return k.err
	}
	c.queue = append(c.queue, k)
	c.mu.Unlock()
	select {
	case <-k.wake:
	case <-ctx.Done():
		c.mu.Lock()
		if !k.lead {
			if i := index(c.queue, k); i >= 0 { // still waiting: withdraw
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				c.mu.Unlock()
				return ctx.Err()
			}
		}
		c.mu.Unlock()
		<-k.wake // in a group on its way, or made the leader
	}
	if k.lead {
		c.lead(k)
	}
	return k.err
}

// Waiting returns the number of items waiting for a group (not those of
// the groups in flight): for tests that line items up behind a held one.
func (c *Committer[T]) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Stats returns the number of groups sent and of items they held: their
// ratio is the mean group size.
func (c *Committer[T]) Stats() (groups, items uint64) {
	return c.groups.Load(), c.items.Load()
}

// lead sends one group in a lane of its own: self and the oldest waiting
// items, up to the size; then it hands the lane to the oldest item left,
// if any.
func (c *Committer[T]) lead(self *call[T]) {
	c.mu.Lock()
	n := min(len(c.queue), c.max-1)
	taken := append([]*call[T]{self}, c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	c.mu.Unlock()

	defer c.handOff()
	batch := taken[:0:0]
	for _, k := range taken {
		if err := k.ctx.Err(); err != nil {
			k.err = err // gave up before its group went: nothing sent
			if k != self {
				close(k.wake)
			}
			continue
		}
		batch = append(batch, k)
	}
	if len(batch) == 0 {
		return
	}
	done := false
	defer func() {
		if !done { // send panicked: fail the group, then panic on
			for _, k := range batch {
				k.err = errors.New("group: the engine's send panicked")
			}
		}
		for _, k := range batch {
			if k != self {
				close(k.wake)
			}
		}
	}()
	items := make([]T, len(batch))
	for i, k := range batch {
		items[i] = k.item
	}
	ctx, stop := groupContext(batch)
	errs := c.send(ctx, items)
	stop()
	for i, k := range batch {
		if i < len(errs) {
			k.err = errs[i]
		} else {
			k.err = errResults
		}
	}
	c.groups.Add(1)
	c.items.Add(uint64(len(batch)))
	done = true
}

// handOff passes the lane to the oldest waiting item, taking it off the
// queue, or frees the lane.
func (c *Committer[T]) handOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.inFlight--
		return
	}
	next := c.queue[0]
	c.queue = c.queue[1:]
	next.lead = true
	close(next.wake)
}

// groupContext returns the context a group is sent with: a lone item's
// own, else one carrying the first item's values that is done only once
// every item's context is (a caller giving up does not fail the others).
func groupContext[T any](batch []*call[T]) (context.Context, func()) {
	if len(batch) == 1 {
		return batch[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, k := range batch {
		stops[i] = context.AfterFunc(k.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// index returns the position of k in q, or -1.
func index[T any](q []*call[T], k *call[T]) int {
	for i, x := range q {
		if x == k {
			return i
		}
	}
	return -1
}
