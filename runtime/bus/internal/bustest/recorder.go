// Package bustest holds what the tests of the bus transports (redisbus,
// pgbus) share: a [Recorder] that runs a subscription and checks the
// contract of [bus.Bus.Subscribe] while it records, and [Run], the tests
// every transport passes against its real server. It is imported by tests
// only.
package bustest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Recorder runs one Subscribe call and records what it delivers and every
// state change. It reports (t.Errorf) any breach of the Subscribe
// contract: the first state call must be up, states must alternate,
// deliver and state must never run concurrently, no call may come after
// Subscribe returned, and Subscribe must return the context's error.
type Recorder struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}
	inCall atomic.Int32

	mu       sync.Mutex
	msgs     []bus.Message
	states   []bool
	returned bool
	err      error
}

// Subscribe starts b.Subscribe in a goroutine with a Recorder's deliver
// and state functions. The subscription ends when Stop is called or the
// test ends.
func Subscribe(t *testing.T, b bus.Bus) *Recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{t: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := b.Subscribe(ctx, r.deliver, r.state)
		r.mu.Lock()
		r.returned, r.err = true, err
		r.mu.Unlock()
	}()
	t.Cleanup(r.Stop)
	return r
}

// enter and leave bracket a callback and report overlapping calls.
func (r *Recorder) enter(what string) {
	if r.inCall.Add(1) != 1 {
		r.t.Errorf("%s called while another deliver or state call runs", what)
	}
	r.mu.Lock()
	if r.returned {
		r.t.Errorf("%s called after Subscribe returned", what)
	}
	r.mu.Unlock()
}

func (r *Recorder) leave() { r.inCall.Add(-1) }

func (r *Recorder) deliver(m bus.Message) {
	r.enter("deliver")
	defer r.leave()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *Recorder) state(up bool) {
	r.enter("state")
	defer r.leave()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case len(r.states) == 0 && !up:
		r.t.Errorf("first state call is state(false)")
	case len(r.states) > 0 && r.states[len(r.states)-1] == up:
		r.t.Errorf("state(%v) twice in a row", up)
	}
	r.states = append(r.states, up)
}

// Stop cancels the subscription and waits (at most ten seconds) for
// Subscribe to return; it then checks that Subscribe returned
// context.Canceled. Stop may be called more than once.
func (r *Recorder) Stop() {
	r.t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("Subscribe did not return within 10s of its context's end")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(r.err, context.Canceled) {
		r.t.Errorf("Subscribe returned %v, want context.Canceled", r.err)
	}
}

// Returned reports whether Subscribe has returned, and its error.
func (r *Recorder) Returned() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.returned, r.err
}

// Messages returns a copy of the messages delivered so far.
func (r *Recorder) Messages() []bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// States returns a copy of the state calls so far.
func (r *Recorder) States() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

// Ups counts the state(true) calls so far.
func (r *Recorder) Ups() int {
	return countOf(r.States(), true)
}

// Downs counts the state(false) calls so far.
func (r *Recorder) Downs() int {
	return countOf(r.States(), false)
}

func countOf(s []bool, v bool) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// Up reports whether the last state call was state(true).
func (r *Recorder) Up() bool {
	s := r.States()
	return len(s) > 0 && s[len(s)-1]
}

// WaitUps waits until n state(true) calls have been made, failing the
// test after timeout.
func (r *Recorder) WaitUps(n int, timeout time.Duration) {
	r.t.Helper()
	Eventually(r.t, timeout, "state(true) call", func() bool { return r.Ups() >= n })
}

// WaitDowns waits until n state(false) calls have been made, failing the
// test after timeout.
func (r *Recorder) WaitDowns(n int, timeout time.Duration) {
	r.t.Helper()
	Eventually(r.t, timeout, "state(false) call", func() bool { return r.Downs() >= n })
}

// WaitMessages waits until at least n messages have been delivered,
// failing the test after timeout, and returns the messages.
func (r *Recorder) WaitMessages(n int, timeout time.Duration) []bus.Message {
	r.t.Helper()
	Eventually(r.t, timeout, "delivered messages", func() bool { return len(r.Messages()) >= n })
	return r.Messages()
}

// Eventually polls cond every few milliseconds until it holds, failing
// the test (naming what it waited for) when timeout passes first.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
