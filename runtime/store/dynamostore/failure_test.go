package dynamostore_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

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
	enginetest.Outage(t, "dynamostore", s, proxy, 10*time.Second)
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
	ops := enginetest.Ops(t, s, storetest.NewKey(t))
	enginetest.RequireDeadlines(t, "dynamostore", ops, 200*time.Millisecond, 2*time.Second)
}
