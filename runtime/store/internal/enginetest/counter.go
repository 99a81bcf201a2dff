package enginetest

import (
	"context"
	"net"
	"sync"
)

// Counter counts round trips (a read that follows a write) and bytes
// written over every connection made through its [Counter.Dial]. The zero
// value is ready to use.
type Counter struct {
	mu        sync.Mutex
	wrote     bool // the last thing seen was a write
	trips     int
	bytesSent int
}

// countingConn is one connection counted by c.
type countingConn struct {
	net.Conn
	c *Counter
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.mu.Lock()
	c.c.bytesSent += n
	if n > 0 {
		c.c.wrote = true
	}
	c.c.mu.Unlock()
	return n, err
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.c.mu.Lock()
		if c.c.wrote {
			c.c.trips++
			c.c.wrote = false
		}
		c.c.mu.Unlock()
	}
	return n, err
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips, c.bytesSent, c.wrote = 0, 0, false
}

// Get returns the round trips and bytes written since the last Reset.
func (c *Counter) Get() (trips, bytesSent int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips, c.bytesSent
}

// Dial returns a dial function, for a driver's configuration, that wraps
// every connection it makes so that c counts it.
func (c *Counter) Dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, c: c}, nil
	}
}
