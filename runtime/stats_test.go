package session

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// recordingObserver keeps what an Observer is told.
type recordingObserver struct {
	mu    sync.Mutex
	calls []string // op:outcome, in order
	lags  []time.Duration
}

type observerCtxKey struct{}

func (o *recordingObserver) EngineCall(ctx context.Context, op EngineOp) (context.Context, func(error)) {
	return context.WithValue(ctx, observerCtxKey{}, op), func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.calls = append(o.calls, op.String()+":"+OutcomeOf(err).String())
	}
}

func (o *recordingObserver) BusLag(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lags = append(o.lags, d)
}

func (o *recordingObserver) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

func TestStatsCountCacheAndEngine(t *testing.T) {
	obs := &recordingObserver{}
	h := newHarness(t, WithObserver(obs))
	assert.Zero(t, h.m.Stats().EngineCallsTotal())

	c := h.newSession("n", 1) // one create
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := Value[int](s, "n") // a warm read: a cache hit
		require.NoError(t, err)
	}, c)
	unknown := &http.Cookie{Name: "sid", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, _, err := Value[int](s, "n") // a miss: the engine has none
		require.NoError(t, err)
	}, unknown)
	require.NoError(t, setOn(h, c, "n", 2)) // one update

	st := h.m.Stats()
	assert.Equal(t, uint64(1), st.EngineCalls(OpCreate, OutcomeOK))
	assert.Equal(t, uint64(1), st.EngineCalls(OpLoad, OutcomeNotFound))
	assert.Equal(t, uint64(1), st.EngineCalls(OpUpdate, OutcomeOK))
	assert.Equal(t, uint64(3), st.EngineCallsTotal())
	assert.Equal(t, uint64(1), st.CacheMisses)
	assert.GreaterOrEqual(t, st.CacheHits, uint64(2))
	assert.Equal(t, []string{"create:ok", "load:not_found", "update:ok"}, obs.seen())
	assert.Zero(t, st.BusSent, "no bus")
}

func TestStatsCountConflicts(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("n", 1)
	tries := 0
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		_, err := Update(r.Context(), s, "n", func(n int, _ bool) (int, error) {
			tries++
			if tries == 1 { // another process writes the key meanwhile
				b, err := encode(10)
				require.NoError(t, err)
				_, err = h.store.Store.Update(context.Background(), store.Key(c.Value), store.Change{Set: map[string][]byte{"n": b}})
				require.NoError(t, err)
			}
			return n + 1, nil
		})
		require.NoError(t, err)
	}, c)
	st := h.m.Stats()
	assert.Equal(t, 2, tries)
	assert.Equal(t, uint64(1), st.Conflicts)
	assert.Equal(t, uint64(1), st.Retries)
	assert.Equal(t, uint64(1), st.EngineCalls(OpUpdate, OutcomeRefused))
}

func TestStatsCountBusMessages(t *testing.T) {
	mem, l := sharedEngine(t), bus.NewLocal()
	// Local delivers only to the subscriptions up when a message goes out:
	// newNode waits for each node's subscription before the test writes.
	a := newNode(t, mem, l, "A")
	b := newNode(t, mem, l, "B")
	c := a.newSession("n", 1)
	require.NoError(t, setOn(a, c, "n", 2))
	assert.Eventually(t, func() bool {
		// Create announces nothing (no node can hold a copy); the Set does.
		return a.m.Stats().BusSent == 1 && b.m.Stats().BusReceived == 1
	}, 10*time.Second, time.Millisecond)
	assert.Zero(t, a.m.Stats().BusReceived, "a node's own messages are not counted as received")
}

func TestOutcomeNames(t *testing.T) {
	var names []string
	for _, op := range EngineOps() {
		names = append(names, op.String())
	}
	assert.Equal(t, []string{"load", "create", "update", "delete", "move", "version", "owned"}, names)
	names = nil
	for _, o := range Outcomes() {
		names = append(names, o.String())
	}
	assert.Equal(t, []string{"ok", "not_found", "refused", "error"}, names)
	assert.Equal(t, OutcomeError, OutcomeOf(context.DeadlineExceeded))
	assert.Equal(t, OutcomeRefused, OutcomeOf(store.ErrTooLarge))
	assert.Equal(t, "unknown", EngineOp(200).String())
	_, err := New(WithObserver(nil))
	assert.Error(t, err)
}
