package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// errInjected is the error a countingStore returns when told to fail.
var errInjected = errors.New("injected engine failure")

// countingStore wraps a real engine, counts the calls made to it and can
// fail chosen operations on purpose. It is not a mock: every call that is
// not failed goes to the real engine.
type countingStore struct {
	store.Store
	loads, creates, updates, deletes, versions, moves atomic.Int64

	mu sync.Mutex
	// afterLoad, when set, is called after the engine answered a Load
	// and before the answer goes back to the manager.
	afterLoad func(key string)
	fail      map[string]error // operation name, or "op:key", -> error to return
	keys      []string         // every key the engine was given
	last      []store.Change   // every Update's change
}

func newCountingStore(inner store.Store) *countingStore {
	return &countingStore{Store: inner, fail: map[string]error{}}
}

func (c *countingStore) failOn(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.fail, op)
		return
	}
	c.fail[op] = err
}

func (c *countingStore) injected(op, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, key)
	if err := c.fail[op+":"+key]; err != nil {
		return err
	}
	return c.fail[op]
}

func (c *countingStore) calls() int64 {
	return c.loads.Load() + c.creates.Load() + c.updates.Load() + c.deletes.Load() + c.moves.Load()
}

func (c *countingStore) seenKeys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.keys...)
}

func (c *countingStore) changes() []store.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]store.Change(nil), c.last...)
}

func (c *countingStore) Load(ctx context.Context, key string) (store.Record, error) {
	c.loads.Add(1)
	if err := c.injected("load", key); err != nil {
		return store.Record{}, err
	}
	rec, err := c.Store.Load(ctx, key)
	c.mu.Lock()
	after := c.afterLoad
	c.mu.Unlock()
	if after != nil {
		after(key)
	}
	return rec, err
}

// setAfterLoad sets the afterLoad function.
func (c *countingStore) setAfterLoad(f func(key string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.afterLoad = f
}

func (c *countingStore) Create(ctx context.Context, key string, rec store.Record) error {
	c.creates.Add(1)
	if err := c.injected("create", key); err != nil {
		return err
	}
	return c.Store.Create(ctx, key, rec)
}

func (c *countingStore) Update(ctx context.Context, key string, ch store.Change) (uint64, error) {
	c.updates.Add(1)
	c.mu.Lock()
	c.last = append(c.last, ch)
	c.mu.Unlock()
	if err := c.injected("update", key); err != nil {
		return 0, err
	}
	return c.Store.Update(ctx, key, ch)
}

// Version forwards to the engine's store.Versioner (memstore has one).
func (c *countingStore) Version(ctx context.Context, key string) (uint64, error) {
	c.versions.Add(1)
	if err := c.injected("version", key); err != nil {
		return 0, err
	}
	return c.Store.(store.Versioner).Version(ctx, key)
}

// Owned forwards to the engine's store.OwnerIndex (memstore has one).
func (c *countingStore) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if err := c.injected("owned", owner); err != nil {
		return nil, err
	}
	return c.Store.(store.OwnerIndex).Owned(ctx, owner)
}

func (c *countingStore) Move(ctx context.Context, from, to string, ch store.Change) (store.Record, error) {
	c.moves.Add(1)
	if err := c.injected("move", from); err != nil {
		return store.Record{}, err
	}
	return c.Store.Move(ctx, from, to, ch)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	if err := c.injected("delete", key); err != nil {
		return err
	}
	return c.Store.Delete(ctx, key)
}

// clock is a settable time source for Manager.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a manager over a counting memstore, with a captured log and
// a settable clock, serving a handler that the test swaps per request.
type harness struct {
	t     *testing.T
	m     *Manager
	store *countingStore
	log   *syncBuffer
	clock *clock
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	return newHarnessOn(t, mem, opts...)
}

func newHarnessOn(t *testing.T, engine store.Store, opts ...Option) *harness {
	t.Helper()
	h := &harness{t: t, store: newCountingStore(engine), log: &syncBuffer{}, clock: newClock()}
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// An engine without the optional capabilities stays without them.
	var eng store.Store = h.store
	if _, ok := engine.(store.Versioner); !ok {
		eng = plainStore{h.store}
	}
	all := append([]Option{WithStore(eng), WithLogger(logger), withClock(h.clock.Now)}, opts...)
	m, err := New(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h.m = m
	return h
}

// withClock sets the manager's clock (before any goroutine starts).
func withClock(now func() time.Time) Option {
	return func(m *Manager) error {
		m.now = now
		return nil
	}
}

// withQueues sets the capacities of the publish and hook queues.
func withQueues(pub, hook int) Option {
	return func(m *Manager) error {
		m.pubCap, m.hookCap = pub, hook
		return nil
	}
}

// plainStore hides every optional capability of an engine: it is a bare
// store.Store.
type plainStore struct{ store.Store }

// handle is the per-request function a test runs inside the middleware.
type handle func(w http.ResponseWriter, r *http.Request, s *Session)

// do sends one request carrying cookies through the middleware to fn and
// returns the recorded response.
func (h *harness) do(fn handle, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	h.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r, FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec
}

// newSession creates a session holding key=v and returns its cookie.
func (h *harness) newSession(key string, v any) *http.Cookie {
	h.t.Helper()
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(h.t, s.Set(r.Context(), key, v))
	})
	c := sidCookie(rec.Result())
	require.NotNil(h.t, c, "the first Set must send a cookie")
	return c
}

// sidCookie returns the "sid" cookie a response sets, or nil.
func sidCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

// engineRecord loads the session of cookie c straight from the engine.
func (h *harness) engineRecord(c *http.Cookie) (store.Record, error) {
	return h.store.Store.Load(context.Background(), store.Key(c.Value))
}

// recorder is an httptest.ResponseRecorder.
type recorder = httptest.ResponseRecorder

func newRecorder() *recorder { return httptest.NewRecorder() }
