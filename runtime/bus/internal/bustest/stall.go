package bustest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Bound is the staleness bound of a session manager with a bus by
// default, and ProofInterval the proof interval such a manager asks its
// bus for (a quarter of the bound).
const (
	Bound         = session.DefaultMaxStalenessWithBus
	ProofInterval = Bound / 4
)

// StallDetected checks a proved subscription r (interval ProofInterval)
// whose transport silently stalled at stalled: the loss is reported
// (state(false)) within Bound of the stall, so a manager on that bus logs
// it before any cached copy could be older than its bound. It returns
// the time from the stall to the report.
func StallDetected(t *testing.T, r *Recorder, stalled time.Time) time.Duration {
	t.Helper()
	r.WaitDowns(1, 10*Bound)
	states, times := r.States(), r.StateTimes()
	var down time.Time
	for i, up := range states {
		if !up && times[i].After(stalled) {
			down = times[i]
			break
		}
	}
	require.False(t, down.IsZero(), "state(false) after the stall")
	detect := down.Sub(stalled)
	var last Proof
	for _, p := range r.Proofs() {
		if p.At.Before(down) {
			last = p
		}
	}
	t.Logf("stall reported (state(false)) %v after it began (proof interval %v, bound %v); the last proof was of %v before the stall",
		detect.Round(time.Millisecond), ProofInterval, Bound, stalled.Sub(last.T).Round(time.Millisecond))
	assert.LessOrEqual(t, detect, Bound, "the stall is reported within the staleness bound")
	return detect
}

// ManagerStall runs two session managers, A and B, on one memory engine,
// each on its own Bus from newBus (nodes of the transport under test),
// with the default staleness bound. B caches a session and keeps it past
// the bound while the bus proves itself live; then stall silences the
// transport without closing anything, A changes the session, and B reads
// it again and again. Every read of B that begins at least Bound after
// A's change returned must see the change: that is the bound's
// guarantee. The test logs when B's manager reported the bus down and
// when it stopped serving the old copy, and checks that the report came
// within the bound. resume ends the stall.
func ManagerStall(t *testing.T, newBus func(t *testing.T) bus.Bus, stall, resume func()) {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	la, lb := &EventLog{}, &EventLog{}
	checks := &countingEngine{Store: st}
	a := newManager(t, "A", st, newBus(t), la)
	b := newManager(t, "B", checks, newBus(t), lb)
	const upMsg, downMsg = "session: bus subscription up", "session: bus subscription down"
	Eventually(t, Wait, "both subscriptions up", func() bool {
		_, ua := la.First(upMsg, time.Time{})
		_, ub := lb.First(upMsg, time.Time{})
		return ua && ub
	})

	cookie := do(t, a, nil, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.Set(r.Context(), "v", 1))
	})
	require.NotNil(t, cookie)
	cached := time.Now()
	assert.Equal(t, 1, read(t, b, cookie), "B loads the session")

	// Past the bound, B's copy is served because the bus proves itself
	// live (without proofs each read would check with the engine). A
	// late proof on a busy machine may cost a check, so this is logged,
	// not asserted.
	time.Sleep(time.Until(cached.Add(Bound + Bound/2)))
	before := checks.n.Load()
	for range 10 {
		assert.Equal(t, 1, read(t, b, cookie))
		time.Sleep(Bound / 20)
	}
	t.Logf("past the bound, with the bus live: %d engine checks for 10 reads", checks.n.Load()-before)

	stall()
	stalled := time.Now()
	do(t, a, cookie, func(r *http.Request, s *session.Session) {
		require.NoError(t, s.Set(r.Context(), "v", 2))
	})
	changed := time.Now() // A's change is in the engine

	type result struct {
		began time.Time
		v     int
	}
	var reads []result
	for {
		var got result
		do(t, b, cookie, func(r *http.Request, s *session.Session) {
			got.began = time.Now() // before the lookup
			v, ok, err := session.Value[int](s, "v")
			require.NoError(t, err)
			require.True(t, ok)
			got.v = v
		})
		reads = append(reads, got)
		if got.v == 2 && got.began.After(changed.Add(Bound+Bound/5)) {
			break
		}
		require.Less(t, time.Since(changed), 10*Bound, "B still serves the old value 10 bounds after the change")
		time.Sleep(5 * time.Millisecond)
	}
	var lastOld, firstNew time.Time
	for _, r := range reads {
		if r.began.Sub(changed) >= Bound {
			assert.Equal(t, 2, r.v, "a read that began %v after the change", r.began.Sub(changed))
		}
		if r.v == 1 {
			lastOld = r.began
		} else if firstNew.IsZero() {
			firstNew = r.began
		}
	}

	Eventually(t, 10*Bound, "B to report the bus down", func() bool {
		_, ok := lb.First(downMsg, stalled)
		return ok
	})
	down, _ := lb.First(downMsg, stalled)
	t.Logf("B reported the bus down %v after the stall began; old copy last served to a read begun %v after the stall (%v after the change); first fresh read began %v after the stall",
		down.Sub(stalled).Round(time.Millisecond), lastOld.Sub(stalled).Round(time.Millisecond),
		lastOld.Sub(changed).Round(time.Millisecond), firstNew.Sub(stalled).Round(time.Millisecond))
	assert.LessOrEqual(t, down.Sub(stalled), Bound, "the manager learns of the stall within the bound")
	if !lastOld.IsZero() {
		assert.Less(t, lastOld.Sub(changed), Bound, "no read is served a copy older than the bound")
	}

	resume()
	Eventually(t, 10*Bound, "B's subscription up again", func() bool {
		_, ok := lb.First(upMsg, stalled)
		return ok
	})
	assert.Equal(t, 2, read(t, b, cookie))
}

// newManager returns a manager named node on st and b, logging to log,
// closed at the end of the test.
func newManager(t *testing.T, node string, st store.Store, b bus.Bus, log *EventLog) *session.Manager {
	t.Helper()
	m, err := session.New(session.WithStore(st), session.WithBus(b), session.WithNode(node), session.WithLogger(slog.New(log)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// do sends one request with cookie (nil: none) through m to fn and
// returns the session cookie the response sets, nil when none.
func do(t *testing.T, m *session.Manager, cookie *http.Cookie, fn func(r *http.Request, s *session.Session)) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		fn(r, session.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	require.Less(t, rec.Code, 400, "%s", rec.Body)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

// read returns the session's "v" as m serves it.
func read(t *testing.T, m *session.Manager, cookie *http.Cookie) int {
	t.Helper()
	var v int
	do(t, m, cookie, func(_ *http.Request, s *session.Session) {
		var ok bool
		var err error
		v, ok, err = session.Value[int](s, "v")
		require.NoError(t, err)
		require.True(t, ok)
	})
	return v
}

// countingEngine is a memory engine that counts the reads a manager
// makes to check a cached copy (Load and Version).
type countingEngine struct {
	*memstore.Store
	n atomic.Int64
}

func (c *countingEngine) Load(ctx context.Context, key string) (store.Record, error) {
	c.n.Add(1)
	return c.Store.Load(ctx, key)
}

func (c *countingEngine) Version(ctx context.Context, key string) (uint64, error) {
	c.n.Add(1)
	return c.Store.Version(ctx, key)
}

// EventLog is a slog.Handler that keeps each record's message and time.
type EventLog struct {
	mu     sync.Mutex
	events []event
}

type event struct {
	at  time.Time
	msg string
}

// First returns the time of the first record whose message begins with
// prefix logged after after, and whether there is one.
func (l *EventLog) First(prefix string, after time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if strings.HasPrefix(e.msg, prefix) && e.at.After(after) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// Enabled reports true: every level is kept.
func (l *EventLog) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps r's message and time.
func (l *EventLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, event{at: r.Time, msg: r.Message})
	return nil
}

// WithAttrs returns l: attributes are not kept.
func (l *EventLog) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup returns l: groups are not kept.
func (l *EventLog) WithGroup(string) slog.Handler { return l }
