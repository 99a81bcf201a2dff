package session

import (
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// The package's tests as a whole do not run under leakcheck.VerifyTestMain:
// many of them leave their managers to t.Cleanup or to the garbage
// collector. These tests check, each on its own, that Close leaves
// nothing behind; goroutines that other tests left running are ignored.

// TestCloseLeavesNoGoroutines: a closed manager leaves no goroutine:
// neither the cache's (clean-up, clock), nor the default memory
// engine's, nor, with a bus and hooks, the subscription, publisher and
// hook worker.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.Except(leakcheck.Current()))
	before := runtime.NumGoroutine()
	const n = 200
	for range n {
		m, err := New()
		require.NoError(t, err)
		require.NoError(t, m.Close())
	}
	t.Logf("%d goroutines before, %d after %d managers made and closed", before, runtime.NumGoroutine(), n)

	for _, b := range []bus.Bus{bus.NewLocal(), newProvingBus()} {
		m, err := New(WithBus(b), WithHooks(Hooks{Created: func(Event) {}}), WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		eventually(t, "the subscription", m.busUp.Load)
		require.NoError(t, m.Close())
		require.NoError(t, m.Close(), "a second Close")
	}
}

// TestFailedNewLeavesNoGoroutines: New that fails on an option starts
// nothing.
func TestFailedNewLeavesNoGoroutines(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.Except(leakcheck.Current()))
	_, err := New(WithMaxStaleness(-time.Second))
	require.Error(t, err)
}

// TestCloseLeavesCallersEngineOpen: Close stops the engine New made
// itself, never one the caller passed, and the sessions of a closed
// manager still work.
func TestCloseLeavesCallersEngineOpen(t *testing.T) {
	others := leakcheck.Except(leakcheck.Current())
	defer leakcheck.VerifyNone(t, others)
	mem := memstore.New()
	m, err := New(WithStore(mem))
	require.NoError(t, err)
	require.NoError(t, m.Close())
	// The clean-up goroutine may not have been scheduled yet: wait for it
	// to show up, as it does unless Close stopped it.
	janitor := func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "memstore.(*shards).janitor")
	}
	eventually(t, "the caller's engine runs its clean-up", janitor)
	require.NoError(t, mem.Close())
}

// TestSessionsWorkAfterClose: a closed manager still serves and changes
// sessions (the engine New made stays usable).
func TestSessionsWorkAfterClose(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	h := &harness{t: t, m: m}
	c := h.newSession("k", 1)
	require.NoError(t, m.Close())
	h.do(func(_ http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "k", 2))
	}, c)
	h.do(func(_ http.ResponseWriter, _ *http.Request, s *Session) {
		v, ok, err := Value[int](s, "k")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, 2, v)
	}, c)
}
