package redisbus_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
)

// ownServer is a redis-server the test starts, stops and restarts itself.
type ownServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// startOwnServer starts redis-server on a spare loopback port. The test
// needs envAddr set (the signal that servers are available) and fails when
// redis-server is not on PATH.
func startOwnServer(t *testing.T) *ownServer {
	t.Helper()
	serverAddr(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("%s is set but redis-server is not on PATH: %v", envAddr, err)
	}
	s := &ownServer{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// addr is the server's host:port.
func (s *ownServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start launches the server and waits until it answers PING.
func (s *ownServer) start() {
	s.t.Helper()
	s.out = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	require.NoError(s.t, s.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("redis-server on port %d did not answer: %v\n%s", s.port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the server (no clean shutdown; also when paused) and waits
// for it to exit.
func (s *ownServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// signal sends sig to the running server.
func (s *ownServer) signal(sig syscall.Signal) {
	s.t.Helper()
	require.NotNil(s.t, s.cmd, "server not running")
	require.NoError(s.t, s.cmd.Process.Signal(sig))
}

// ownClient is a client on s that fails fast while the server is down.
func ownClient(t *testing.T, s *ownServer) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                  s.addr(),
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// publishUntil publishes m through b until it is delivered to r (the
// publisher's pooled connections may be dead after an outage), failing
// the test after ten seconds.
func publishUntil(t *testing.T, b bus.Bus, r *bustest.Recorder, m bus.Message) {
	t.Helper()
	bustest.Eventually(t, 10*time.Second, "delivery after the outage", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if b.Publish(ctx, m) != nil {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			msgs := r.Messages()
			if len(msgs) > 0 && msgs[len(msgs)-1] == m {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
}

// TestServerKilledAndRestarted kills the server under a subscription:
// the Bus reports the loss, keeps trying while the server is gone without
// further state calls, and, once the server is back on the same port,
// subscribes again by itself (the same Bus, the same Subscribe call),
// reports it and delivers again; the log says so.
func TestServerKilledAndRestarted(t *testing.T) {
	srv := startOwnServer(t)
	ch := bustest.Channel()
	var logs lockedBuffer
	sub := newBus(t, ownClient(t, srv), ch, redisbus.WithHealthCheck(200*time.Millisecond), redisbus.WithLogger(logs.logger()))
	pub := newBus(t, ownClient(t, srv), ch)
	r := bustest.Subscribe(t, sub)
	r.WaitUps(1, bustest.Wait)
	m1 := bustest.Msg("pub", "key", 1)
	bustest.Publish(t, pub, m1)
	r.WaitMessages(1, bustest.Wait)

	srv.kill()
	killed := time.Now()
	r.WaitDowns(1, 2*time.Second)
	t.Logf("loss reported %v after the kill", time.Since(killed).Round(time.Millisecond))
	// Down, retrying: no more state calls while the server is gone.
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, []bool{true, false}, r.States())
	ended, _ := r.Returned()
	assert.False(t, ended, "Subscribe keeps running through the outage")

	srv.start()
	restarted := time.Now()
	r.WaitUps(2, 10*time.Second)
	t.Logf("resubscribed %v after the restart", time.Since(restarted).Round(time.Millisecond))
	m2 := bustest.Msg("pub", "key", 2)
	publishUntil(t, pub, r, m2)
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
// The loss is reported within a few intervals; after SIGCONT the Bus
// subscribes again and delivers.
func TestServerPaused(t *testing.T) {
	const health = 200 * time.Millisecond
	srv := startOwnServer(t)
	ch := bustest.Channel()
	sub := newBus(t, ownClient(t, srv), ch, redisbus.WithHealthCheck(health))
	pub := newBus(t, ownClient(t, srv), ch)
	r := bustest.Subscribe(t, sub)
	r.WaitUps(1, bustest.Wait)

	srv.signal(syscall.SIGSTOP)
	paused := time.Now()
	t.Cleanup(func() {
		if srv.cmd != nil {
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	r.WaitDowns(1, 10*health)
	t.Logf("loss reported %v after the pause (health check %v)", time.Since(paused).Round(time.Millisecond), health)

	srv.signal(syscall.SIGCONT)
	r.WaitUps(2, 10*time.Second)
	m := bustest.Msg("pub", "key", 1)
	publishUntil(t, pub, r, m)
	assert.Equal(t, []bool{true, false, true}, r.States())
}

// TestServerDownAtStart: Subscribe on a server that is not there yet
// makes no state call until the server comes up, then reports up and
// delivers.
func TestServerDownAtStart(t *testing.T) {
	srv := startOwnServer(t)
	srv.kill()
	ch := bustest.Channel()
	sub := newBus(t, ownClient(t, srv), ch, redisbus.WithHealthCheck(200*time.Millisecond))
	r := bustest.Subscribe(t, sub)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, r.States(), "no state call before the first subscription")

	srv.start()
	r.WaitUps(1, 10*time.Second)
	publishUntil(t, newBus(t, ownClient(t, srv), ch), r, bustest.Msg("pub", "key", 1))
	assert.Equal(t, []bool{true}, r.States())
}
