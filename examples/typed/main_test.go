package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is the demo started by run, as main starts it.
type process struct {
	base string      // http://host:port
	logs *syncBuffer // what it wrote to stderr
	stop func() int  // sends the shutdown signal and returns the exit status
}

// start runs the demo with args (plus -addr 127.0.0.1:0) until the
// returned stop is called, and waits until it listens.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.MultiWriter(logs, t.Output()), func(a net.Addr) { addrs <- a })
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case code := <-done:
		cancel()
		t.Fatalf("the demo exited with status %d before listening:\n%s", code, logs.String())
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("the demo did not start listening within a minute")
	}
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return &process{base: base, logs: logs, stop: stop}
}

// TestRestartSurvival runs the demo as main does, on the default engine (a
// bbolt file under -data), shuts it down, starts it again on the same
// directory and finds the session intact.
func TestRestartSurvival(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	p := start(t, "-data", dir)
	assert.Contains(t, p.logs.String(), "msg=listening")
	assert.Contains(t, p.logs.String(), "url="+p.base+"/")
	assert.Contains(t, p.logs.String(), "store=bolt")
	assert.FileExists(t, filepath.Join(dir, "sessions.db"), "-data is created with the bbolt file in it")

	b := newBrowser(t, p.base)
	b.login("alice")
	require.Equal(t, http.StatusOK, b.addItem("apple").status)
	require.Equal(t, int64(1), b.me().Visits)
	sid := b.sid()
	require.Equal(t, 0, p.stop(), "graceful shutdown exits 0")
	assert.Contains(t, p.logs.String(), "msg=stopped")
	assert.NotContains(t, p.logs.String(), sid, "the session ID is never logged")

	p2 := start(t, "-data", dir)
	b.base = p2.base // the jar's cookie is for 127.0.0.1, whatever the port
	me := b.me()
	assert.Equal(t, "alice", me.User)
	assert.Equal(t, int64(2), me.Visits)
	assert.Equal(t, []string{"apple"}, me.Cart)
	assert.Equal(t, sid, b.sid(), "the same cookie")
	require.Equal(t, 0, p2.stop())
}

func TestRunArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"help", []string{"-h"}, 0, "-store"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"serve"}, 2, "unexpected arguments"},
		{"unknown scheme", []string{"-store", "ftp://x/y"}, 2, `unknown scheme \"ftp\"`},
		{"no scheme", []string{"-store", "nothing"}, 2, "no scheme"},
		{"dynamodb without table (or not built in)", []string{"-store", "dynamodb://127.0.0.1:1"}, 2, "dynamodb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(t.Context(), tc.args, &out, func(net.Addr) { t.Error("the demo started listening") })
			assert.Equal(t, tc.code, code, out.String())
			assert.Contains(t, out.String(), tc.out)
		})
	}
}

func TestRunEngineFailure(t *testing.T) {
	// The data directory cannot be created under a regular file.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	var out bytes.Buffer
	code := run(t.Context(), []string{"-data", filepath.Join(file, "data")}, &out, nil)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "open the session store")
	assert.Contains(t, out.String(), "level=ERROR")

	// A bbolt file is held by one process at a time.
	dir := t.TempDir()
	p := start(t, "-data", dir)
	out.Reset()
	code = run(t.Context(), []string{"-data", dir}, &out, nil)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "locked")
	assert.Equal(t, 0, p.stop())
}

func TestRunListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var out bytes.Buffer
	code := run(t.Context(), []string{"-addr", ln.Addr().String(), "-store", "memory:"}, &out, nil)
	assert.Equal(t, 1, code)
	assert.True(t, strings.Contains(out.String(), "msg=listen"), out.String())
}
