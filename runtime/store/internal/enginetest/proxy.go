package enginetest

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/freeport"
)

// Proxy is a TCP forwarder to a server that the test can stop (every
// connection cut, new ones refused) and start again on the same address:
// a server outage as the client sees it.
type Proxy struct {
	t         *testing.T
	targetNet string // "tcp" or "unix"
	target    string

	mu    sync.Mutex
	addr  string // listen address, fixed across restarts
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to target (on network "tcp" or "unix") on a free
// loopback port, and stops it at the end of the test.
func NewProxy(t *testing.T, network, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, addr: "127.0.0.1:0", targetNet: network, target: target}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Addr is the host:port the proxy listens on.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Start listens again on the proxy's address.
func (p *Proxy) Start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.Addr())
	require.NoError(p.t, err, "proxy listen")
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String()
	p.conns = make(map[net.Conn]struct{})
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

// accept forwards every connection accepted on ln.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial(p.targetNet, p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // stopped meanwhile
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// pipe copies from src to dst until either side closes.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Stop closes the listener, cuts every connection and waits until the
// proxy's goroutines have ended. Stopping a stopped proxy does nothing.
func (p *Proxy) Stop() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.wg.Wait()
}

// FreePort returns a loopback TCP port nothing listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return freeport.Get(t)
}
