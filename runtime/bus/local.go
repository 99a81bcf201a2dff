package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Local is a [Bus] inside one process: every subscription of one Local
// receives what is published on it. It serves several managers in one
// process (tests, or an application that runs more than one), and lets
// tests simulate an outage with [Local.SetDown].
//
// Delivery is asynchronous, as on a real transport: Publish queues the
// message for each current subscription and returns; each subscription
// delivers its queue in order from the goroutine that called Subscribe.
// Queues are unbounded, so Publish never blocks. The zero value is not
// usable; call [NewLocal].
//
// Local does not implement [Prover]: it has no connection that could
// stall silently, and an outage (SetDown) is always reported.
type Local struct {
	mu   sync.Mutex
	subs map[*localSub]struct{}
	down bool
}

// localSub is one subscription's queue.
type localSub struct {
	mu    sync.Mutex
	items []localItem
	wake  chan struct{} // capacity 1: something was queued
}

// localItem is a queued message or state change.
type localItem struct {
	msg   Message
	state bool // a state change, not a message
	up    bool
}

// NewLocal returns a Local bus that is up.
func NewLocal() *Local {
	return &Local{subs: map[*localSub]struct{}{}}
}

// push queues it and wakes the subscription.
func (s *localSub) push(it localItem) {
	s.mu.Lock()
	s.items = append(s.items, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns and clears the queue.
func (s *localSub) take() []localItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.items
	s.items = nil
	return items
}

// Publish queues m for every current subscription. While the bus is down
// (see SetDown) the message reaches nobody and Publish still returns nil,
// as a publish to a channel nobody listens on does. A message that
// [Message.Validate] rejects gives an error wrapping [ErrMalformed].
func (l *Local) Publish(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("bus: local: publish: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: local: publish: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil
	}
	for s := range l.subs {
		s.push(localItem{msg: m})
	}
	return nil
}

// Subscribe delivers the messages published from now on, following the
// contract of [Bus.Subscribe]: state(true) first (at once, or when the
// bus comes back up if it is down), state(false) when SetDown(true) is
// called, and state(true) again on SetDown(false). state may be nil. It
// returns ctx's error when ctx ends.
func (l *Local) Subscribe(ctx context.Context, deliver func(Message), state func(up bool)) error {
	if deliver == nil {
		return errors.New("bus: local: subscribe: deliver is nil")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &localSub{wake: make(chan struct{}, 1)}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	if !l.down {
		s.push(localItem{state: true, up: true})
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.subs, s)
		l.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		}
		for _, it := range s.take() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch {
			case !it.state:
				deliver(it.msg)
			case state != nil:
				state(it.up)
			}
		}
	}
}

// SetDown simulates an outage (true) or its end (false). Going down, every
// subscription is told state(false) after the messages already queued
// for it, and messages published while down reach nobody. Coming up,
// every subscription is told state(true) and delivery resumes. Setting
// the state the bus already has does nothing.
func (l *Local) SetDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == down {
		return
	}
	l.down = down
	for s := range l.subs {
		s.push(localItem{state: true, up: !down})
	}
}

// Down reports whether the bus is down (see SetDown).
func (l *Local) Down() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}
