package dynamostore_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// moveOp is Move as an enginetest.Op: from key to a new key.
func moveOp(t *testing.T, s store.Store, key string) enginetest.Op {
	return enginetest.Op{Name: "move", Do: func(ctx context.Context) error {
		_, err := s.Move(ctx, key, storetest.NewKey(t), store.Change{Expires: time.Now().Add(time.Hour)})
		return err
	}}
}

// TestEngineGoneAndBack cuts the connection to the engine in the middle of
// a run: every operation reports a wrapped error (not a sentinel) and
// nothing panics; once the engine is reachable again, the same Store
// works, with the sessions written before the outage intact.
func TestEngineGoneAndBack(t *testing.T) {
	ep := endpoint(t)
	u, err := url.Parse(ep)
	require.NoError(t, err)
	proxy := enginetest.NewProxy(t, "tcp", u.Host)
	c := newClient("http://"+proxy.Addr(), nil, 2)
	table := testTable(t, newClient(ep, nil, 0))
	s := newStore(t, c, table)
	// The Store gets up to ten seconds to work again after the restart.
	enginetest.Outage(t, "dynamostore", s, proxy, 10*time.Second, moveOp(t, s, storetest.NewKey(t)))
}

// TestContextDeadline points a Store at a server that accepts connections
// and never answers: each operation ends at its context's deadline with a
// wrapped context.DeadlineExceeded. Move's includes the bounded attempt
// (compensateTimeout, 1 s) to take back a mark that may have landed.
func TestContextDeadline(t *testing.T) {
	endpoint(t) // the engine is not used, but keep the test with the others
	s, err := dynamostore.New(context.Background(), newClient("http://"+silentServer(t), nil, 1), "sessions", dynamostore.WithoutSetup())
	require.NoError(t, err)
	key := storetest.NewKey(t)
	ops := append(enginetest.Ops(t, s, key), moveOp(t, s, key))
	enginetest.RequireDeadlines(t, "dynamostore", ops, 200*time.Millisecond, 2*time.Second)
}

// silentServer listens on a loopback port, accepts connections and never
// answers; it returns the address.
func silentServer(t *testing.T) string {
	t.Helper()
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
	return ln.Addr().String()
}
