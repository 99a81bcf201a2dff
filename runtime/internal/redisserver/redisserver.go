// Package redisserver starts, stops and restarts private redis-server
// processes on spare loopback ports, for tests that take a Redis server
// down (redisbus, redisstore). It is imported by tests only.
package redisserver

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/freeport"
)

// Server is a redis-server the test starts, stops and restarts itself,
// without persistence: a restarted server is empty.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// Start starts redis-server on a spare loopback port and kills it at the
// end of the test. env names the variable that says Redis servers are
// available (the address of one the other tests use): Start skips the
// test when it is unset, and fails it, naming env, when redis-server is
// not on PATH.
func Start(t testing.TB, env string) *Server {
	t.Helper()
	if strings.TrimSpace(os.Getenv(env)) == "" {
		t.Skipf("%s is not set: skipping tests that start a redis-server of their own (set it to host:port of a Redis server)", env)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("%s is set but redis-server is not on PATH: %v", env, err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: freeport.Get(t)}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's port, the same across restarts.
func (s *Server) Port() int { return s.port }

// Bin is the path of the redis-server executable.
func (s *Server) Bin() string { return s.bin }

// Running reports whether the server process is running (possibly
// stopped by a signal).
func (s *Server) Running() bool { return s.cmd != nil }

// Restart launches the server on its port and waits until it answers
// PING, failing the test after ten seconds. The server must not be
// running.
func (s *Server) Restart() {
	s.t.Helper()
	require.Nil(s.t, s.cmd, "server already running")
	s.out = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	require.NoError(s.t, s.cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("redis-server on port %d did not answer: %v\n%s", s.port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the server (no clean shutdown; also when stopped by a
// signal) and waits for it to exit. It does nothing when the server is
// not running.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig to the running server.
func (s *Server) Signal(sig syscall.Signal) {
	s.t.Helper()
	require.NotNil(s.t, s.cmd, "server not running")
	require.NoError(s.t, s.cmd.Process.Signal(sig))
}

// ping sends PING on a connection of its own and reads the answer: the
// server is up once it answers +PONG.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
