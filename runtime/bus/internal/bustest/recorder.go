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

// Recorder runs one Subscribe (or SubscribeProved) call and records what
// it delivers, every state change and every proof, with the time of each
// call. It reports (t.Errorf) any breach of the contract of
// [bus.Bus.Subscribe] and [bus.Prover.SubscribeProved]: the first state
// call must be up, states must alternate, deliver, state and proved must
// never run concurrently, proofs come only while up and prove increasing
// times, no call may come after Subscribe returned, and Subscribe must
// return the context's error.
type Recorder struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}
	inCall atomic.Int32

	mu         sync.Mutex
	msgs       []bus.Message
	states     []bool
	stateTimes []time.Time
	proofs     []Proof
	returned   bool
	err        error
}

// Proof is one call of the proved function as a Recorder saw it.
type Proof struct {
	// T is the time proved: every message published before it has been
	// delivered.
	T time.Time
	// At is when the call came.
	At time.Time
	// Delivered is how many messages had been delivered by then.
	Delivered int
}

// Subscribe starts b.Subscribe in a goroutine with a Recorder's deliver
// and state functions. The subscription ends when Stop is called or the
// test ends.
func Subscribe(t *testing.T, b bus.Bus) *Recorder {
	t.Helper()
	return start(t, func(ctx context.Context, r *Recorder) error {
		return b.Subscribe(ctx, r.deliver, r.state)
	})
}

// SubscribeProved starts b.SubscribeProved with interval in a goroutine,
// with a Recorder's deliver, state and proved functions. The subscription
// ends when Stop is called or the test ends.
func SubscribeProved(t *testing.T, b bus.Prover, interval time.Duration) *Recorder {
	t.Helper()
	return start(t, func(ctx context.Context, r *Recorder) error {
		return b.SubscribeProved(ctx, interval, r.deliver, r.state, r.proved)
	})
}

// start runs subscribe in a goroutine for a new Recorder.
func start(t *testing.T, subscribe func(context.Context, *Recorder) error) *Recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{t: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := subscribe(ctx, r)
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
	r.stateTimes = append(r.stateTimes, time.Now())
}

func (r *Recorder) proved(t time.Time) {
	at := time.Now()
	r.enter("proved")
	defer r.leave()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case len(r.states) == 0 || !r.states[len(r.states)-1]:
		r.t.Errorf("proved called while the subscription is not up")
	case len(r.proofs) > 0 && !t.After(r.proofs[len(r.proofs)-1].T):
		r.t.Errorf("proved(%v) after proved(%v): not increasing", t, r.proofs[len(r.proofs)-1].T)
	case t.After(at):
		r.t.Errorf("proved a time %v in the future", t.Sub(at))
	}
	r.proofs = append(r.proofs, Proof{T: t, At: at, Delivered: len(r.msgs)})
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

// StateTimes returns when each of the state calls so far came.
func (r *Recorder) StateTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stateTimes)
}

// Proofs returns a copy of the proofs so far.
func (r *Recorder) Proofs() []Proof {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.proofs)
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
