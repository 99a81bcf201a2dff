package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// newNode returns a manager named name on a shared engine, subscribed to
// b when b is not nil, and waits until its subscription is up.
func newNode(t *testing.T, engine store.Store, b bus.Bus, name string, opts ...Option) *harness {
	t.Helper()
	all := append([]Option{WithNode(name)}, opts...)
	if b != nil {
		all = append(all, WithBus(b))
	}
	h := newHarnessOn(t, engine, all...)
	if b != nil {
		eventually(t, "node "+name+" subscribed", h.m.busUp.Load)
		h.clock.Advance(time.Millisecond) // the test clock stands still otherwise
	}
	return h
}

// sharedEngine returns a memory engine closed when the test ends.
func sharedEngine(t *testing.T) *memstore.Store {
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	return mem
}

// eventually polls cond until it holds, failing the test after five
// seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// inject publishes m on l as another node would.
func inject(t *testing.T, l *bus.Local, m bus.Message) {
	t.Helper()
	require.NoError(t, l.Publish(context.Background(), m))
}

var syncSeq atomic.Int64

// settle waits until node h has applied every message published on l
// before the call: it publishes a marker and waits for it.
func settle(t *testing.T, l *bus.Local, h *harness) {
	t.Helper()
	key := fmt.Sprintf("sync-%d", syncSeq.Add(1))
	inject(t, l, bus.Message{Node: "tester", Key: key, Version: 1, Kind: bus.Changed})
	eventually(t, "the marker message", func() bool { _, ok := h.m.marks.get(key); return ok })
}

// value reads "k" on h with cookie c: the value, or -1 without a
// session.
func (h *harness) value(c *http.Cookie) int {
	h.t.Helper()
	v := -1
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		n, ok, err := Value[int](s, "k")
		require.NoError(h.t, err)
		if ok {
			v = n
		}
	}, c)
	return v
}

// setValue writes "k" on h with cookie c.
func (h *harness) setValue(c *http.Cookie, v int) {
	h.t.Helper()
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(h.t, s.Set(r.Context(), "k", v))
	}, c)
}

func TestMessagesOutOfOrderLoseNothing(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, nil, "A") // writes without announcing: the test delivers
	b := newNode(t, mem, l, "B", WithMaxStaleness(time.Hour))
	c := a.newSession("k", 1)
	key := store.Key(c.Value)
	require.Equal(t, 1, b.value(c))
	require.Equal(t, int64(1), b.store.loads.Load())
	a.setValue(c, 2) // version 2
	a.setValue(c, 3) // version 3

	inject(t, l, bus.Message{Node: "A", Key: key, Version: 3, Kind: bus.Changed})
	settle(t, l, b)
	assert.Equal(t, 3, b.value(c), "v3 drops the cached v1")
	assert.Equal(t, int64(2), b.store.loads.Load())

	inject(t, l, bus.Message{Node: "A", Key: key, Version: 2, Kind: bus.Changed}) // late
	inject(t, l, bus.Message{Node: "A", Key: key, Version: 3, Kind: bus.Changed}) // repeated
	settle(t, l, b)
	assert.Equal(t, 3, b.value(c), "an older or repeated message changes nothing")
	assert.Equal(t, int64(2), b.store.loads.Load(), "and costs no load")

	inject(t, l, bus.Message{Node: "A", Key: key, Kind: bus.Deleted})
	inject(t, l, bus.Message{Node: "A", Key: key, Version: 9, Kind: bus.Changed}) // after the deletion
	settle(t, l, b)
	assert.Equal(t, -1, b.value(c), "deleted stays deleted")
	assert.Equal(t, int64(2), b.store.loads.Load(), "refused without asking the engine")
}

func TestOwnMessagesIgnored(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, l, "A", WithMaxStaleness(time.Hour))
	c := a.newSession("k", 1)
	for i := 2; i <= 4; i++ {
		a.setValue(c, i)
	}
	settle(t, l, a)
	assert.Equal(t, 4, a.value(c))
	assert.Zero(t, a.store.loads.Load(), "A's own messages do not drop its copy")
	assert.Zero(t, a.store.versions.Load())
}

func TestLoadRacingChangeIsNotCached(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, l, "B", WithMaxStaleness(time.Hour))
	c := a.newSession("k", 1)
	key := store.Key(c.Value)
	a.setValue(c, 2)

	loaded, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.store.setAfterLoad(func(string) {
		once.Do(func() {
			close(loaded)
			<-resume
		})
	})
	got := make(chan int)
	go func() { got <- b.value(c) }()
	<-loaded // B read version 2 from the engine; it is not cached yet
	a.setValue(c, 3)
	inject(t, l, bus.Message{Node: "A", Key: key, Version: 3, Kind: bus.Changed})
	settle(t, l, b)
	close(resume)
	assert.Equal(t, 2, <-got, "the racing request gets what was read after it began")
	assert.Equal(t, 3, b.value(c), "but the stale copy is not served again")
	assert.Equal(t, int64(2), b.store.loads.Load())
	assert.Equal(t, 3, b.value(c))
	assert.Equal(t, int64(2), b.store.loads.Load(), "the reloaded copy is cached")
}

func TestLoadRacingDeletionIsRefused(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, l, "A")
	b := newNode(t, mem, l, "B", WithMaxStaleness(time.Hour))
	c := a.newSession("k", 1)

	loaded, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.store.setAfterLoad(func(string) {
		once.Do(func() {
			close(loaded)
			<-resume
		})
	})
	got := make(chan int)
	go func() { got <- b.value(c) }()
	<-loaded // B read the session; A now destroys it
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { require.NoError(t, s.Destroy(r.Context())) }, c)
	settle(t, l, b)
	close(resume)
	assert.Equal(t, -1, <-got, "a load that raced a deletion is refused")
	assert.Equal(t, -1, b.value(c))
	assert.Equal(t, int64(1), b.store.loads.Load(), "and the deletion needs no second load")
}

func TestChangedMessageReachesOtherNodes(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, l, "A")
	b := newNode(t, mem, l, "B", WithMaxStaleness(time.Hour))
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	a.setValue(c, 2)
	eventually(t, "B to see the write", func() bool { return b.value(c) == 2 })
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { require.NoError(t, s.Destroy(r.Context())) }, c)
	eventually(t, "B to refuse the session", func() bool { return b.value(c) == -1 })
}

func TestBusDownAppliesBoundAndUpRevalidates(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, l, "B", WithMaxStaleness(time.Minute))
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	assert.Equal(t, 1, strings.Count(b.log.String(), "bus subscription up"))

	l.SetDown(true)
	eventually(t, "B to see the bus down", func() bool { return !b.m.busUp.Load() })
	assert.True(t, b.m.bounded.Load())
	a.setValue(c, 2) // no message reaches B
	assert.Equal(t, 1, b.value(c), "within the bound the cached copy is served")
	assert.Zero(t, b.store.versions.Load())

	b.clock.Advance(time.Minute + time.Second)
	assert.Equal(t, 2, b.value(c), "past the bound it is revalidated")
	assert.Equal(t, int64(1), b.store.versions.Load(), "by a version check")
	assert.Equal(t, int64(2), b.store.loads.Load(), "and, the version differing, a load")
	assert.Equal(t, 2, b.value(c))
	assert.Equal(t, int64(2), b.store.loads.Load(), "revalidated copies are cached again")

	a.setValue(c, 3) // missed too
	l.SetDown(false)
	eventually(t, "B to see the bus up", b.m.busUp.Load)
	assert.False(t, b.m.bounded.Load())
	b.clock.Advance(time.Second)
	assert.Equal(t, 3, b.value(c), "everything cached before the bus came back is revalidated")
	assert.Equal(t, 3, b.value(c))
	assert.Equal(t, int64(2), b.store.versions.Load())
	assert.Equal(t, int64(3), b.store.loads.Load())

	logs := b.log.String()
	assert.Equal(t, 1, strings.Count(logs, "bus subscription down"), logs)
	assert.Equal(t, 2, strings.Count(logs, "bus subscription up"), logs)
	assert.NotContains(t, logs, c.Value, "no session ID in the log")
}

func TestUnchangedSessionRevalidatedByVersionOnly(t *testing.T) {
	mem := sharedEngine(t)
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, nil, "B", WithMaxStaleness(time.Minute))
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	b.clock.Advance(2 * time.Minute)
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(1), b.store.versions.Load())
	assert.Equal(t, int64(1), b.store.loads.Load(), "same version: no reload")
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(1), b.store.versions.Load(), "freshly checked: no second check")
	b.clock.Advance(2 * time.Minute)
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { require.NoError(t, s.Destroy(r.Context())) }, c)
	assert.Equal(t, -1, b.value(c), "a version check that finds nothing refuses the session")
}

func TestBoundWithoutVersionerReloads(t *testing.T) {
	mem := sharedEngine(t)
	a := newNode(t, mem, nil, "A")
	b := newNode(t, plainStore{mem}, nil, "B", WithMaxStaleness(time.Minute))
	require.Nil(t, b.m.versioner)
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	a.setValue(c, 2)
	assert.Equal(t, 1, b.value(c), "within the bound")
	b.clock.Advance(2 * time.Minute)
	assert.Equal(t, 2, b.value(c), "past it: reloaded")
	assert.Equal(t, int64(2), b.store.loads.Load())
}

func TestNoBusNoBoundTrustsCache(t *testing.T) {
	mem := sharedEngine(t)
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, nil, "B")
	assert.Zero(t, b.m.maxStale)
	assert.False(t, b.m.bounded.Load())
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	a.setValue(c, 2)
	b.clock.Advance(10 * time.Minute)
	assert.Equal(t, 1, b.value(c), "one process's default: the cache TTL bounds staleness")
	assert.Zero(t, b.store.versions.Load())
}

func TestWriteOnStaleCopyIsReloaded(t *testing.T) {
	mem := sharedEngine(t)
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, nil, "B")
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "a", 1))
	}, c)
	b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "b", 1))
	}, c)
	// B's copy was version 1; its write made version 3: it missed A's.
	b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, []string{"a", "b", "k"}, s.Keys())
	}, c)
	assert.Equal(t, int64(2), b.store.loads.Load(), "reloaded after the write")
	b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "b", 2))
	}, c)
	b.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		v, _, err := Value[int](s, "b")
		require.NoError(t, err)
		assert.Equal(t, 2, v)
	}, c)
	assert.Equal(t, int64(2), b.store.loads.Load(), "a write on a current copy keeps it current")
	e, ok := b.m.cache.GetIfPresent(c.Value)
	require.True(t, ok)
	assert.Equal(t, uint64(4), e.snap.Load().version)
}

// recordBus subscribes to l and records what it delivers.
func recordBus(t *testing.T, l *bus.Local) func() []bus.Message {
	var mu sync.Mutex
	var msgs []bus.Message
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Subscribe(ctx, func(m bus.Message) {
			mu.Lock()
			defer mu.Unlock()
			msgs = append(msgs, m)
		}, func(bool) {
			select {
			case <-up:
			default:
				close(up)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-up
	return func() []bus.Message {
		mu.Lock()
		defer mu.Unlock()
		return append([]bus.Message(nil), msgs...)
	}
}

func TestEveryChangeIsPublished(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	got := recordBus(t, l)
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			a := newNode(t, mem, l, "A-"+mode.String(), WithFlushMode(mode), WithIdleTimeout(time.Hour), WithOwnerKey("uid"))
			node := a.m.node
			mine := func() []bus.Message {
				var out []bus.Message
				for _, m := range got() {
					if m.Node == node {
						out = append(out, m)
					}
				}
				return out
			}
			c := a.newSession("k", 1)
			key := store.Key(c.Value)
			assert.Empty(t, mine(), "a creation needs no message: nobody can have the session cached")
			a.setValue(c, 2)
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Remove(r.Context(), "k"))
			}, c)
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				require.NoError(t, s.Set(r.Context(), "uid", "ada"))
			}, c)
			a.clock.Advance(20 * time.Minute)
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { _ = s.Keys() }, c) // a touch
			want := []bus.Message{
				{Node: node, Key: key, Version: 2, Kind: bus.Changed},
				{Node: node, Key: key, Version: 3, Kind: bus.Changed},
				{Node: node, Key: key, Version: 4, Kind: bus.Changed},
				{Node: node, Key: key, Version: 5, Kind: bus.Changed},
			}
			eventually(t, "four messages", func() bool { return len(mine()) >= 4 })
			assert.Equal(t, want, mine())

			var renewed *http.Cookie
			rec := a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { require.NoError(t, s.Renew(r.Context())) }, c)
			renewed = sidCookie(rec.Result())
			require.NotNil(t, renewed)
			want = append(want, bus.Message{Node: node, Key: key, Kind: bus.Deleted})
			a.do(func(w http.ResponseWriter, r *http.Request, s *Session) { require.NoError(t, s.Destroy(r.Context())) }, renewed)
			want = append(want, bus.Message{Node: node, Key: store.Key(renewed.Value), Kind: bus.Deleted})

			exp := a.newSession("k", 1)
			a.clock.Advance(2 * time.Hour)
			assert.Equal(t, -1, a.value(exp), "expired")
			want = append(want, bus.Message{Node: node, Key: store.Key(exp.Value), Kind: bus.Deleted})

			owned := a.newSession("uid", "bob")
			n, err := a.m.RevokeAll(context.Background(), "bob")
			require.NoError(t, err)
			require.Equal(t, 1, n)
			want = append(want, bus.Message{Node: node, Key: store.Key(owned.Value), Kind: bus.Deleted})

			eventually(t, "every message", func() bool { return len(mine()) >= len(want) })
			assert.Equal(t, want, mine())
			for _, m := range mine() {
				for _, ck := range []*http.Cookie{c, renewed, exp, owned} {
					assert.NotEqual(t, ck.Value, m.Key, "messages carry engine keys, never IDs")
				}
			}
		})
	}
}

// flakyBus is a Local bus whose Publish fails the first fails times.
type flakyBus struct {
	*bus.Local
	fails atomic.Int64
}

func (f *flakyBus) Publish(ctx context.Context, m bus.Message) error {
	if f.fails.Add(-1) >= 0 {
		return errInjected
	}
	return f.Local.Publish(ctx, m)
}

func TestPublishRetriesThenDrops(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	got := recordBus(t, l)
	fb := &flakyBus{Local: l}
	a := newNode(t, mem, fb, "A")
	c := a.newSession("k", 1)
	fb.fails.Store(2) // two failures: the third attempt gets through
	a.setValue(c, 2)
	eventually(t, "the message after retries", func() bool { return len(got()) == 1 })
	fb.fails.Store(3) // three failures: dropped
	a.setValue(c, 3)
	eventually(t, "the drop to be logged", func() bool { return strings.Contains(a.log.String(), "bus publish failed") })
	assert.Len(t, got(), 1)
	assert.Contains(t, a.log.String(), errInjected.Error())
	assert.NotContains(t, a.log.String(), c.Value)
}

func TestFullPublishQueueDropsAndLogs(t *testing.T) {
	mem := sharedEngine(t)
	blocked := &blockingBus{Local: bus.NewLocal(), release: make(chan struct{})}
	a := newNode(t, mem, blocked, "A", withQueues(1, DefaultHookQueue))
	c := a.newSession("k", 1)
	a.setValue(c, 2) // taken by the publisher, which blocks
	eventually(t, "the publisher to block", func() bool { return blocked.calls.Load() == 1 })
	a.setValue(c, 3) // queued
	start := time.Now()
	a.setValue(c, 4) // the queue is full: dropped after QueueWait
	assert.GreaterOrEqual(t, time.Since(start), QueueWait)
	assert.Contains(t, a.log.String(), "publish queue full")
	assert.Contains(t, a.log.String(), "dropped=1")
	close(blocked.release)
	require.NoError(t, a.m.Close())
	assert.Equal(t, int64(2), blocked.calls.Load(), "the queued message went out at Close")
}

// blockingBus is a Local bus whose first Publish waits for release.
type blockingBus struct {
	*bus.Local
	calls   atomic.Int64
	release chan struct{}
}

func (b *blockingBus) Publish(ctx context.Context, m bus.Message) error {
	if b.calls.Add(1) == 1 {
		<-b.release
	}
	return b.Local.Publish(ctx, m)
}

func TestCloseIsIdempotentAndSessionsStillWork(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	a := newNode(t, mem, l, "A")
	c := a.newSession("k", 1)
	require.NoError(t, a.m.Close())
	require.NoError(t, a.m.Close())
	a.setValue(c, 2)
	assert.Equal(t, 2, a.value(c))
	assert.Contains(t, a.log.String(), "manager closed; change message dropped")
	// A manager without goroutines closes too.
	m, err := New()
	require.NoError(t, err)
	require.NoError(t, m.Close())
}

func TestSubscriptionRestartsWhenBusReturns(t *testing.T) {
	eb := &endingBus{Local: bus.NewLocal()}
	eb.ends.Store(1)
	a := newNode(t, sharedEngine(t), eb, "A")
	eventually(t, "the retry to be logged", func() bool { return strings.Contains(a.log.String(), "bus subscription ended") })
	eventually(t, "the second subscription", func() bool { return eb.calls.Load() >= 2 && a.m.busUp.Load() })
}

// endingBus is a Local bus whose first Subscribe calls report up, then
// return an error at once, as a broken transport might.
type endingBus struct {
	*bus.Local
	ends, calls atomic.Int64
}

func (b *endingBus) Subscribe(ctx context.Context, deliver func(bus.Message), state func(bool)) error {
	b.calls.Add(1)
	if b.ends.Add(-1) >= 0 {
		state(true)
		return errors.New("transport gave up")
	}
	return b.Local.Subscribe(ctx, deliver, state)
}

func TestMultiNodeOptions(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	assert.Len(t, m.Node(), 16, "a random node ID")
	m2, err := New()
	require.NoError(t, err)
	assert.NotEqual(t, m.Node(), m2.Node())
	assert.Zero(t, m.maxStale)

	m, err = New(WithBus(bus.NewLocal()), WithNode("n1"))
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, DefaultMaxStalenessWithBus, m.maxStale)
	assert.Equal(t, "n1", m.Node())
	m, err = New(WithBus(bus.NewLocal()), WithMaxStaleness(0))
	require.NoError(t, err)
	defer m.Close()
	assert.Zero(t, m.maxStale)

	for _, o := range []Option{WithNode(""), WithBus(nil), WithMaxStaleness(-time.Second), WithOwnerKey(""), WithOwnerKey("a\x00")} {
		_, err := New(o)
		assert.Error(t, err)
	}
}

func TestLoadRacingOwnWriteIsNotCached(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	// A request holds the cached entry; the entry leaves the cache and
	// another request starts loading the session again.
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.Equal(t, c.Value, s.ID())
		e, ok := h.m.cache.GetIfPresent(c.Value)
		require.True(t, ok)
		require.True(t, h.m.forget(e))

		loaded, resume := make(chan struct{}), make(chan struct{})
		var once sync.Once
		h.store.setAfterLoad(func(string) {
			once.Do(func() {
				close(loaded)
				<-resume
			})
		})
		got := make(chan int)
		go func() { got <- h.value(c) }()
		<-loaded                                       // the load read version 1
		require.NoError(t, s.Set(r.Context(), "k", 2)) // version 2, through the old entry
		close(resume)
		assert.Equal(t, 1, <-got, "the racing request gets what it read")
	}, c)
	assert.Equal(t, 2, h.value(c), "but the stale copy is not served again")
}
