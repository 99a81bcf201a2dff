package redisbus_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
)

// TestServerKilledAndRestarted kills the server under a subscription:
// the Bus reports the loss, keeps trying while the server is gone without
// further state calls, and, once the server is back on the same port,
// subscribes again by itself (the same Bus, the same Subscribe call),
// reports it and delivers again; the log says so.
func TestServerKilledAndRestarted(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	ch := bustest.Channel()
	var logs bustest.LogBuffer
	sub := newBus(t, client(t, srv, time.Second), ch, redisbus.WithHealthCheck(200*time.Millisecond), redisbus.WithLogger(logs.Logger()))
	pub := newBus(t, client(t, srv, time.Second), ch)
	r := bustest.Subscribe(t, sub)
	r.WaitUps(1, bustest.Wait)
	m1 := bustest.Msg("pub", "key", 1)
	bustest.Publish(t, pub, m1)
	r.WaitMessages(1, bustest.Wait)

	srv.Kill()
	killed := time.Now()
	r.WaitDowns(1, 2*time.Second)
	t.Logf("loss reported %v after the kill", time.Since(killed).Round(time.Millisecond))
	// Down, retrying: no more state calls while the server is gone.
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, []bool{true, false}, r.States())
	ended, _ := r.Returned()
	assert.False(t, ended, "Subscribe keeps running through the outage")

	srv.Restart()
	restarted := time.Now()
	r.WaitUps(2, 10*time.Second)
	t.Logf("resubscribed %v after the restart", time.Since(restarted).Round(time.Millisecond))
	m2 := bustest.Msg("pub", "key", 2)
	bustest.PublishUntil(t, pub, r, m2)
	msgs := r.Messages()
	assert.Equal(t, m1, msgs[0])
	for _, m := range msgs[1:] {
		assert.Equal(t, m2, m, "only m1 and m2 (possibly repeated by publishUntil)")
	}
	assert.Equal(t, []bool{true, false, true}, r.States())
	out := logs.String()
	assert.Contains(t, out, "redisbus: subscription lost; resubscribing")
	assert.Contains(t, out, "redisbus: cannot subscribe; retrying")
	assert.Contains(t, out, "redisbus: subscribed")
}

// TestServerPaused stops the server process (SIGSTOP): the connection
// stays open but nothing answers, which only the health check can notice.
// With the proof interval a session manager asks for by default, the loss
// is reported within the manager's staleness bound; no proof comes while
// the server is stopped; after SIGCONT the Bus subscribes again and
// delivers.
func TestServerPaused(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	ch := bustest.Channel()
	sub := newBus(t, client(t, srv, time.Second), ch)
	pub := newBus(t, client(t, srv, time.Second), ch)
	r := bustest.SubscribeProved(t, sub, bustest.ProofInterval)
	r.WaitUps(1, bustest.Wait)
	bustest.Eventually(t, bustest.Wait, "a proof", func() bool { return len(r.Proofs()) > 0 })

	srv.Signal(syscall.SIGSTOP)
	paused := time.Now()
	t.Cleanup(func() {
		if srv.Running() {
			srv.Signal(syscall.SIGCONT)
		}
	})
	bustest.StallDetected(t, r, paused)
	for _, p := range r.Proofs() {
		assert.False(t, p.T.After(paused), "a proof of a time the server was stopped")
	}

	srv.Signal(syscall.SIGCONT)
	r.WaitUps(2, 10*time.Second)
	m := bustest.Msg("pub", "key", 1)
	bustest.PublishUntil(t, pub, r, m)
	assert.Equal(t, []bool{true, false, true}, r.States())
}

// TestManagerServerPaused runs two session managers over the Bus and
// stops the server under them (SIGSTOP): the staleness bound holds, and
// the managers learn of the stall within it (see bustest.ManagerStall).
func TestManagerServerPaused(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	ch := bustest.Channel()
	t.Cleanup(func() {
		if srv.Running() {
			srv.Signal(syscall.SIGCONT)
		}
	})
	bustest.ManagerStall(t,
		func(t *testing.T) bus.Bus { return newBus(t, client(t, srv, time.Second), ch) },
		func() { srv.Signal(syscall.SIGSTOP) },
		func() { srv.Signal(syscall.SIGCONT) })
}

// TestServerDownAtStart: Subscribe on a server that is not there yet
// makes no state call until the server comes up, then reports up and
// delivers.
func TestServerDownAtStart(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	srv.Kill()
	ch := bustest.Channel()
	sub := newBus(t, client(t, srv, time.Second), ch, redisbus.WithHealthCheck(200*time.Millisecond))
	r := bustest.Subscribe(t, sub)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, r.States(), "no state call before the first subscription")

	srv.Restart()
	r.WaitUps(1, 10*time.Second)
	bustest.PublishUntil(t, newBus(t, client(t, srv, time.Second), ch), r, bustest.Msg("pub", "key", 1))
	assert.Equal(t, []bool{true}, r.States())
}
