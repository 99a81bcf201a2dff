package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// EventKind says what happened to a session.
type EventKind uint8

const (
	// EventCreated: a new session was written to the engine for the first
	// time (its first Set, or the response flush under [OnResponse]).
	EventCreated EventKind = iota + 1
	// EventRenewed: [Session.Renew] moved the session to a new ID.
	EventRenewed
	// EventDestroyed: [Session.Destroy], [Manager.Revoke],
	// [Manager.RevokeAll] or [Manager.RevokeOthers] deleted the session.
	EventDestroyed
	// EventExpired: this manager found the session past its idle or
	// absolute deadline while serving a request (see [Hooks]).
	EventExpired
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventCreated:
		return "created"
	case EventRenewed:
		return "renewed"
	case EventDestroyed:
		return "destroyed"
	case EventExpired:
		return "expired"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event describes one lifecycle event of a session. It never holds the
// session ID.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Handle names the session without revealing its ID: the engine key
	// (store.Key of the ID), as [Manager.Sessions] reports it and
	// [Manager.Revoke] takes it. For EventRenewed it is the new handle.
	Handle string
	// Previous is, for EventRenewed, the handle before the renewal; ""
	// otherwise.
	Previous string
	// Owner is the session's owner (see [WithOwnerKey]) as far as this
	// manager knows it, "" for none.
	Owner string
	// At is when the manager made the change or noticed the expiry.
	At time.Time
}

// Hooks are functions called on lifecycle events (see [WithHooks]). A
// nil function is not called.
//
// They run outside the request's critical path: the manager queues each
// event and a single worker goroutine calls the hooks in order, one at a
// time, so a hook needs no locking against itself and a slow hook delays
// only later events. When [DefaultHookQueue] events are waiting, the
// request that makes another one waits up to [QueueWait] for room; after
// that the event is dropped and a warning is logged (at most one line per
// second, with the number dropped). A hook that panics is recovered and
// logged; the worker goes on. [Manager.Close] runs the events still
// queued, then stops the worker.
//
// Expired fires when this manager, serving a request, finds a session
// past its idle or absolute deadline: a cached copy that expired, or a
// copy the engine returned although it is past the deadline (the engine
// had not purged it yet). It fires once per manager that notices (the
// manager then drops the session and refuses it until the engine purges
// it). It does not fire for sessions the engine purges without this
// manager reading them: engine purges are invisible to the manager, so
// an application that needs every expiry must not rely on this hook.
type Hooks struct {
	// Created is called after a new session was first written.
	Created func(Event)
	// Renewed is called after a session moved to a new ID.
	Renewed func(Event)
	// Destroyed is called after a session was deleted by Destroy or a
	// revoke.
	Destroyed func(Event)
	// Expired is called after this manager found a session expired.
	Expired func(Event)
}

// any reports whether at least one hook is set.
func (h Hooks) any() bool {
	return h.Created != nil || h.Renewed != nil || h.Destroyed != nil || h.Expired != nil
}

// of returns the hook for kind (nil when unset).
func (h Hooks) of(kind EventKind) func(Event) {
	switch kind {
	case EventCreated:
		return h.Created
	case EventRenewed:
		return h.Renewed
	case EventDestroyed:
		return h.Destroyed
	case EventExpired:
		return h.Expired
	}
	return nil
}

// DefaultHookQueue is how many lifecycle events may wait for the hook
// worker.
const DefaultHookQueue = 4096

// QueueWait is how long a request waits for room in a full queue (of
// hook events or of bus messages) before the item is dropped and logged.
const QueueWait = 50 * time.Millisecond

// event queues ev for the hook of its kind, if one is set.
func (m *Manager) event(ctx context.Context, ev Event) {
	if m.hookq == nil || m.hooks.of(ev.Kind) == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = m.now()
	}
	if !enqueue(m.hookq, ev, m.done) {
		m.hookDrops.drop(ctx, m.logger(), "session: hook queue full or manager closed; lifecycle event dropped")
	}
}

// enqueue puts v on q, waiting up to QueueWait for room; it reports
// whether v was queued. After done is closed nothing is queued.
func enqueue[T any](q chan T, v T, done <-chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
	}
	select {
	case q <- v:
		return true
	default:
	}
	t := time.NewTimer(QueueWait)
	defer t.Stop()
	select {
	case q <- v:
		return true
	case <-t.C:
	case <-done:
	}
	return false
}

// runHooks is the hook worker: it calls the hooks of queued events until
// the manager is closed, then runs what is still queued and returns.
func (m *Manager) runHooks() {
	defer m.wg.Done()
	for {
		select {
		case ev := <-m.hookq:
			m.callHook(ev)
		case <-m.done:
			for {
				select {
				case ev := <-m.hookq:
					m.callHook(ev)
				default:
					return
				}
			}
		}
	}
}

// callHook calls the hook for ev, recovering a panic.
func (m *Manager) callHook(ev Event) {
	f := m.hooks.of(ev.Kind)
	if f == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			m.logger().Error("session: hook panicked", slog.String("event", ev.Kind.String()), slog.Any("panic", r))
		}
	}()
	f(ev)
}

// dropCounter counts dropped queue items and logs them at most once per
// second.
type dropCounter struct {
	n       atomic.Uint64 // dropped since the last log line
	total   atomic.Uint64
	lastLog atomic.Int64 // unix nanoseconds of the last log line
}

// drop counts one dropped item and logs msg unless a line was logged in
// the last second.
func (d *dropCounter) drop(ctx context.Context, log *slog.Logger, msg string) {
	d.total.Add(1)
	d.n.Add(1)
	now := time.Now().UnixNano()
	last := d.lastLog.Load()
	if now-last < int64(time.Second) || !d.lastLog.CompareAndSwap(last, now) {
		return
	}
	log.WarnContext(ctx, msg, slog.Uint64("dropped", d.n.Swap(0)))
}
