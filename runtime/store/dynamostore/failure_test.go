package dynamostore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// switchProxy forwards TCP connections from a loopback port to the real
// engine. Cutting it closes the port and every connection through it,
// which the client sees exactly as a server that went away; restoring it
// listens on the same port again.
type switchProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// newSwitchProxy starts a proxy to the host:port of endpoint URL ep.
func newSwitchProxy(t *testing.T, ep string) *switchProxy {
	u, err := url.Parse(ep)
	require.NoError(t, err)
	p := &switchProxy{t: t, target: u.Host, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

// endpoint is the proxy's URL.
func (p *switchProxy) endpoint() string { return "http://" + p.addr }

// restore starts listening (again, on the same port).
func (p *switchProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err)
	p.addr = ln.Addr().String()
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// cut stops listening and closes every open connection.
func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *switchProxy) serve(ln net.Listener) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			return
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

// TestEngineGoneAndBack cuts the connection to the engine in the middle of
// a run: every operation reports a wrapped error (not a sentinel) and
// nothing panics; once the engine is reachable again, the same Store
// works, with the sessions written before the outage intact.
func TestEngineGoneAndBack(t *testing.T) {
	ep := endpoint(t)
	proxy := newSwitchProxy(t, ep)
	c := newClient(proxy.endpoint(), nil, 2)
	table := testTable(t, newClient(ep, nil, 0))
	s := newStore(t, c, table)
	ctx := context.Background()
	rec := func() store.Record {
		return store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	}
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, rec()))

	proxy.cut()
	check := func(err error, op string) {
		t.Helper()
		require.Errorf(t, err, "%s while the engine is unreachable", op)
		assert.NotErrorIs(t, err, store.ErrNotFound, op)
		assert.NotErrorIs(t, err, store.ErrExists, op)
		assert.Truef(t, strings.HasPrefix(err.Error(), "dynamostore: "+op+": "), "%s: %v", op, err)
	}
	_, err := s.Load(ctx, key)
	check(err, "load")
	check(s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}}), "update")
	check(s.Create(ctx, storetest.NewKey(t), rec()), "create")
	check(s.Delete(ctx, key), "delete")

	proxy.restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = s.Load(ctx, key)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "Load after the engine is back")
	require.NoError(t, s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}}))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, got.Fields)
}

// TestContextDeadline points a Store at a server that accepts connections
// and never answers: each operation ends at its context's deadline with a
// wrapped context.DeadlineExceeded.
func TestContextDeadline(t *testing.T) {
	endpoint(t) // the engine is not used, but keep the test with the others
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
	})

	s, err := dynamostore.New(context.Background(), newClient("http://"+ln.Addr().String(), nil, 1), "sessions", dynamostore.WithoutSetup())
	require.NoError(t, err)
	key := storetest.NewKey(t)
	ops := map[string]func(context.Context) error{
		"load": func(ctx context.Context) error { _, err := s.Load(ctx, key); return err },
		"create": func(ctx context.Context) error {
			return s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)})
		},
		"update": func(ctx context.Context) error {
			return s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": nil}})
		},
		"delete": func(ctx context.Context) error { return s.Delete(ctx, key) },
	}
	for op, f := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := f(ctx)
		elapsed := time.Since(start)
		cancel()
		require.Errorf(t, err, "%s on a silent server", op)
		assert.Truef(t, errors.Is(err, context.DeadlineExceeded), "%s: want DeadlineExceeded, got %v", op, err)
		assert.Truef(t, strings.HasPrefix(err.Error(), "dynamostore: "+op+": "), "%s: %v", op, err)
		assert.Lessf(t, elapsed, 2*time.Second, "%s waited past its deadline", op)
	}
}
