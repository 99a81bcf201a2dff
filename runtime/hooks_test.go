package session

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// events records the events hooks receive.
type events struct {
	mu  sync.Mutex
	got []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.got...)
}

// hooks returns Hooks that record every event.
func (e *events) hooks() Hooks {
	return Hooks{Created: e.add, Renewed: e.add, Destroyed: e.add, Expired: e.add}
}

// wait waits until n events were recorded and returns them.
func (e *events) wait(t *testing.T, n int) []Event {
	t.Helper()
	eventually(t, "hook events", func() bool { return len(e.list()) >= n })
	return e.list()
}

func TestHookCreated(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			var ev events
			h := newHarness(t, WithHooks(ev.hooks()), WithFlushMode(mode), WithOwnerKey("uid"))
			c := h.newSession("uid", "ada")
			got := ev.wait(t, 1)
			require.Len(t, got, 1)
			assert.Equal(t, EventCreated, got[0].Kind)
			assert.Equal(t, store.Key(c.Value), got[0].Handle)
			assert.NotEqual(t, c.Value, got[0].Handle, "never the ID")
			assert.Equal(t, "ada", got[0].Owner)
			assert.Equal(t, h.clock.Now(), got[0].At)
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "more", 1))
			}, c)
			require.NoError(t, h.m.Close())
			assert.Len(t, ev.list(), 1, "a write to an existing session creates nothing")
		})
	}
}

func TestHookRenewed(t *testing.T) {
	var ev events
	h := newHarness(t, WithHooks(ev.hooks()), WithOwnerKey("uid"))
	c := h.newSession("uid", int64(7))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Renew(r.Context()))
	}, c)
	nc := sidCookie(rec.Result())
	require.NotNil(t, nc)
	got := ev.wait(t, 2)
	assert.Equal(t, EventRenewed, got[1].Kind)
	assert.Equal(t, store.Key(nc.Value), got[1].Handle)
	assert.Equal(t, store.Key(c.Value), got[1].Previous)
	assert.Equal(t, "7", got[1].Owner)
}

func TestHookDestroyed(t *testing.T) {
	var ev events
	h := newHarness(t, WithHooks(ev.hooks()), WithOwnerKey("uid"))
	c := h.newSession("uid", "ada")
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Destroy(r.Context()))
		require.NoError(t, s.Destroy(r.Context()), "destroying twice is harmless")
	}, c)
	got := ev.wait(t, 2)
	assert.Equal(t, EventDestroyed, got[1].Kind)
	assert.Equal(t, store.Key(c.Value), got[1].Handle)
	assert.Equal(t, "ada", got[1].Owner)

	// Revokes fire it too.
	r1, r2 := h.newSession("uid", "bob"), h.newSession("uid", "bob")
	n, err := h.m.RevokeAll(context.Background(), "bob")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got = ev.wait(t, 6)
	var destroyed []string
	for _, e := range got[4:] {
		assert.Equal(t, EventDestroyed, e.Kind)
		assert.Equal(t, "bob", e.Owner)
		destroyed = append(destroyed, e.Handle)
	}
	assert.ElementsMatch(t, []string{store.Key(r1.Value), store.Key(r2.Value)}, destroyed)
	require.NoError(t, h.m.Close())
	assert.Len(t, ev.list(), 6, "one Destroyed per session")
}

func TestHookExpired(t *testing.T) {
	var ev events
	h := newHarness(t, WithHooks(ev.hooks()), WithIdleTimeout(time.Hour), WithOwnerKey("uid"))
	c := h.newSession("uid", "ada")
	h.clock.Advance(time.Hour)
	for range 3 {
		ok, _ := h.read(c)
		assert.False(t, ok)
	}
	got := ev.wait(t, 2)
	assert.Equal(t, EventExpired, got[1].Kind)
	assert.Equal(t, store.Key(c.Value), got[1].Handle)
	assert.Equal(t, "ada", got[1].Owner)

	// A second manager that finds the expired session in the engine (it
	// had not purged it) reports it too, once.
	var ev2 events
	h2 := newHarnessOn(t, h.store.Store, WithHooks(ev2.hooks()), WithIdleTimeout(time.Hour), withClock(h.clock.Now))
	for range 3 {
		ok, _ := h2.read(c)
		assert.False(t, ok)
	}
	require.NoError(t, h.m.Close())
	require.NoError(t, h2.m.Close())
	assert.Len(t, ev.list(), 2, "expired fires once")
	require.Len(t, ev2.list(), 1)
	assert.Equal(t, EventExpired, ev2.list()[0].Kind)
	assert.Equal(t, int64(1), h2.store.loads.Load(), "later reads are refused without asking the engine")
}

func TestHookExpiredFoundByWriter(t *testing.T) {
	var ev events
	h := newHarness(t, WithHooks(ev.hooks()), WithIdleTimeout(time.Hour))
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.Equal(t, c.Value, s.ID())
		h.clock.Advance(time.Hour) // expires while the request runs
		require.ErrorIs(t, s.Set(r.Context(), "k", 2), ErrNotFound)
	}, c)
	got := ev.wait(t, 2)
	assert.Equal(t, EventExpired, got[1].Kind)
}

func TestHookPanicIsRecovered(t *testing.T) {
	var ev events
	h := newHarness(t, WithHooks(Hooks{
		Created:   func(Event) { panic("boom") },
		Destroyed: ev.add,
	}))
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Destroy(r.Context()))
	}, c)
	got := ev.wait(t, 1)
	assert.Equal(t, EventDestroyed, got[0].Kind, "the worker survived the panic")
	assert.Contains(t, h.log.String(), "hook panicked")
	assert.Contains(t, h.log.String(), "boom")
}

func TestHookQueueFullDropsAndLogs(t *testing.T) {
	var ev events
	release := make(chan struct{})
	var once sync.Once
	h := newHarness(t, withQueues(DefaultPublishQueue, 1), WithHooks(Hooks{Created: func(e Event) {
		once.Do(func() { <-release })
		ev.add(e)
	}}))
	h.newSession("k", 1) // the worker takes it and blocks
	eventually(t, "the worker to take the first event", func() bool { return len(h.m.hookq) == 0 })
	h.newSession("k", 2) // queued
	start := time.Now()
	h.newSession("k", 3) // the queue is full: dropped after QueueWait
	assert.GreaterOrEqual(t, time.Since(start), QueueWait)
	close(release)
	require.NoError(t, h.m.Close())
	assert.Len(t, ev.list(), 2)
	assert.Contains(t, h.log.String(), "hook queue full")
	assert.Contains(t, h.log.String(), "dropped=1")
}

func TestCloseRunsQueuedHooks(t *testing.T) {
	var ev events
	release := make(chan struct{})
	var once sync.Once
	h := newHarness(t, WithHooks(Hooks{Created: func(e Event) {
		once.Do(func() { <-release })
		ev.add(e)
	}}))
	for range 5 {
		h.newSession("k", 1)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	require.NoError(t, h.m.Close())
	assert.Len(t, ev.list(), 5, "Close waits for the queued events")
	h.newSession("k", 1) // after Close: no hook runs
	assert.Len(t, ev.list(), 5)
	assert.True(t, strings.Contains(h.log.String(), "hook queue full or manager closed"))
}

func TestEventKindString(t *testing.T) {
	assert.Equal(t, "created", EventCreated.String())
	assert.Equal(t, "renewed", EventRenewed.String())
	assert.Equal(t, "destroyed", EventDestroyed.String())
	assert.Equal(t, "expired", EventExpired.String())
	assert.Equal(t, "EventKind(9)", EventKind(9).String())
}
