package session

import (
	"errors"
	"net"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// unsent reports whether err, an engine call's failure, proves the call
// never reached the engine, so that nothing of it was applied: the
// engine says so ([store.ErrNotSent]), or its client could not open a
// connection (a *net.OpError whose Op is "dial", name resolution
// included). Any other failure (a connection cut or a timeout after the
// call went out) leaves its outcome unknown.
func unsent(err error) bool {
	var op *net.OpError
	return errors.Is(err, store.ErrNotSent) || errors.As(err, &op) && op.Op == "dial"
}
