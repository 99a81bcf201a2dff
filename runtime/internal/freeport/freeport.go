// Package freeport picks spare loopback TCP ports for tests that start
// servers or proxies of their own. It is imported by tests only.
package freeport

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// Get returns a loopback TCP port nothing listened on a moment ago.
func Get(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}
