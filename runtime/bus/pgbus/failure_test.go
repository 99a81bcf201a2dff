package pgbus_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
)

// terminate ends the server process of every connection named app (a
// name unique to the test: only its listener's) and returns how many it
// ended.
func terminate(t *testing.T, pool *pgxpool.Pool, app string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
		app).Scan(&n)
	require.NoError(t, err)
	return n
}

// TestListenerTerminated ends the listener's server process three times
// (pg_terminate_backend, found by its application_name): each time the
// Bus reports the loss, connects and listens again by itself (the same
// Bus, the same Subscribe call), reports it and delivers again; the log
// says so.
func TestListenerTerminated(t *testing.T) {
	pool := testPool(t)
	app := bustest.UniqueName("sessiongen-test-")
	ch := bustest.Channel()
	var logs bustest.LogBuffer
	sub := newBus(t, testPool(t), ch, pgbus.WithApplicationName(app),
		pgbus.WithHealthCheck(200*time.Millisecond), pgbus.WithLogger(logs.Logger()))
	pub := newBus(t, pool, ch)
	r := bustest.Subscribe(t, sub)
	r.WaitUps(1, bustest.Wait)
	want := []bus.Message{bustest.Msg("pub", "key", 0)}
	bustest.Publish(t, pub, want[0])
	r.WaitMessages(1, bustest.Wait)

	for i := 1; i <= 3; i++ {
		require.Equal(t, 1, terminate(t, pool, app), "round %d: listener connections", i)
		ended := time.Now()
		r.WaitDowns(i, 2*time.Second)
		t.Logf("round %d: loss reported %v after the termination", i, time.Since(ended).Round(time.Millisecond))
		r.WaitUps(i+1, bustest.Wait)
		t.Logf("round %d: listening again %v after the termination", i, time.Since(ended).Round(time.Millisecond))
		m := bustest.Msg("pub", "key", uint64(i))
		bustest.Publish(t, pub, m)
		want = append(want, m)
		assert.Equal(t, want, r.WaitMessages(len(want), bustest.Wait), "round %d", i)
	}
	assert.Equal(t, []bool{true, false, true, false, true, false, true}, r.States())
	ended, _ := r.Returned()
	assert.False(t, ended, "Subscribe keeps running")
	out := logs.String()
	assert.Contains(t, out, "pgbus: listener connection lost; listening again")
	assert.Contains(t, out, "pgbus: listening")
}

// TestListenerFrozen stops all traffic between the listener and the
// server without closing anything (a proxy holds the bytes), which only
// the health check can notice. With the proof interval a session manager
// asks for by default, the loss is reported within the manager's
// staleness bound; once traffic flows again the Bus listens again and
// delivers.
func TestListenerFrozen(t *testing.T) {
	cfg := testConfig(t)
	pool := testPool(t)
	px := newFreezer(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	ch := bustest.Channel()
	sub := newBus(t, px.pool(t, cfg), ch)
	pub := newBus(t, pool, ch)
	r := bustest.SubscribeProved(t, sub, bustest.ProofInterval)
	r.WaitUps(1, bustest.Wait)
	m1 := bustest.Msg("pub", "key", 1)
	bustest.Publish(t, pub, m1)
	r.WaitMessages(1, bustest.Wait)
	bustest.Eventually(t, bustest.Wait, "a proof", func() bool { return len(r.Proofs()) > 0 })

	px.freeze()
	frozen := time.Now()
	bustest.StallDetected(t, r, frozen)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, []bool{true, false}, r.States(), "no state call while frozen")

	px.thaw()
	r.WaitUps(2, 15*time.Second)
	bustest.PublishUntil(t, pub, r, bustest.Msg("pub", "key", 2))
	assert.Equal(t, m1, r.Messages()[0])
	assert.Equal(t, []bool{true, false, true}, r.States())
}

// TestManagerListenerFrozen runs two session managers over the Bus, each
// listening through a proxy that then holds all traffic: the staleness
// bound holds, and the managers learn of the stall within it (see
// bustest.ManagerStall).
func TestManagerListenerFrozen(t *testing.T) {
	cfg := testConfig(t)
	testPool(t) // the server answers
	px := newFreezer(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	ch := bustest.Channel()
	bustest.ManagerStall(t,
		func(t *testing.T) bus.Bus { return newBus(t, px.pool(t, cfg), ch) },
		px.freeze, px.thaw)
}

// TestServerUnreachableAtStart: a Subscribe that cannot reach the server
// makes no state call until it can, then reports up and delivers.
func TestServerUnreachableAtStart(t *testing.T) {
	cfg := testConfig(t)
	pool := testPool(t)
	px := newFreezer(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	px.freeze()
	ch := bustest.Channel()
	sub := newBus(t, px.pool(t, cfg), ch, pgbus.WithHealthCheck(200*time.Millisecond))
	r := bustest.Subscribe(t, sub)
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, r.States(), "no state call before the first LISTEN")

	px.thaw()
	r.WaitUps(1, 15*time.Second)
	bustest.PublishUntil(t, newBus(t, pool, ch), r, bustest.Msg("pub", "key", 1))
	assert.Equal(t, []bool{true}, r.States())
}

// freezer is a TCP proxy to a server that can hold every byte in flight
// (freeze) without closing a connection, and let them go again (thaw): a
// network path that silently stops, as the client sees it.
type freezer struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	gate   chan struct{} // closed while bytes flow
	frozen bool
	conns  map[net.Conn]struct{}
}

// newFreezer starts a proxy to target on a free loopback port and stops
// it at the end of the test.
func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &freezer{target: target, ln: ln, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(f.gate)
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

// pool returns a pool with cfg's settings that connects through f.
func (f *freezer) pool(t *testing.T, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	cfg = cfg.Copy()
	addr := f.ln.Addr().(*net.TCPAddr)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = addr.IP.String(), uint16(addr.Port)
	cfg.ConnConfig.Fallbacks = nil
	return openPool(t, cfg)
}

func (f *freezer) accept() {
	for {
		client, err := f.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		f.mu.Lock()
		f.conns[client], f.conns[server] = struct{}{}, struct{}{}
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(server, client) })
		f.wg.Go(func() { f.pipe(client, server) })
	}
}

// pipe copies src to dst, holding each chunk while f is frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			gate := f.gate
			f.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
}

// freeze holds all traffic from now on.
func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.frozen {
		f.frozen, f.gate = true, make(chan struct{})
	}
}

// thaw lets the held and all further traffic go.
func (f *freezer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen {
		f.frozen = false
		close(f.gate)
	}
}

// close stops the proxy and every connection through it.
func (f *freezer) close() {
	_ = f.ln.Close()
	f.thaw()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
