package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// busUsage documents the -bus flag.
const busUsage = `bus announcing session changes to the other processes sharing the store
(default: derived from -store: Redis pub/sub on the client of a redis:// or
redis+cluster:// store, PostgreSQL LISTEN/NOTIFY on the pool of a postgres:// store,
none for other engines):
  none                              no bus: a process may serve a session from its cache
                                    after another process changed or ended it
  redis://[user:pass@]host:port/DB  Redis pub/sub on a Redis of its own, beside any engine
                                    (rediss:// for TLS; redis+cluster://host:port?addr=... for a cluster)
  postgres://user@host:port/db      PostgreSQL LISTEN/NOTIFY on a database of its own`

// errBusURL reports a -bus value that cannot be understood. The program
// exits with status 2.
var errBusURL = errors.New("invalid -bus URL")

// busSpec is a parsed -bus flag.
type busSpec struct {
	// kind is "none", "store" (the bus on the engine's own connection:
	// kind of the engine tells which), or a separate connection:
	// "redis", "redis-cluster" or "postgres".
	kind string
	// conn is the connection of a separate bus, parsed like -store.
	conn storeSpec
}

// parseBusURL parses the -bus flag for the engine st. An empty raw means
// the default: the engine's own connection when it has a bus, none
// otherwise. Errors wrap errBusURL.
func parseBusURL(raw string, st storeSpec) (busSpec, error) {
	switch strings.ToLower(raw) {
	case "":
		switch st.kind {
		case "redis", "redis-cluster", "postgres":
			return busSpec{kind: "store"}, nil
		}
		return busSpec{kind: "none"}, nil
	case "none", "off":
		return busSpec{kind: "none"}, nil
	}
	scheme, _, _ := strings.Cut(raw, ":")
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "redis+cluster", "rediss+cluster", "postgres", "postgresql":
	default:
		// Not the URL: it may hold a password.
		return busSpec{}, fmt.Errorf("%w: a bus runs on redis://, rediss://, redis+cluster:// or postgres://, or is none; not on %q", errBusURL, strings.ToLower(scheme)+":")
	}
	spec, err := parseStoreURL(raw, "")
	if err != nil {
		// The same URL syntax as -store: say -bus in the message.
		return busSpec{}, fmt.Errorf("%w%s", errBusURL, strings.TrimPrefix(err.Error(), errStoreURL.Error()))
	}
	return busSpec{kind: spec.kind, conn: spec}, nil
}

// openedBus is a bus and what must be closed after the manager using it
// has stopped.
type openedBus struct {
	bus.Bus
	// where describes the bus for the log, without a password; "none"
	// without a bus.
	where string
	// close closes the bus's own connection, if it has one.
	close func() error
}

// Close closes the bus's own connection (not the engine's).
func (b *openedBus) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

// open returns the bus spec names for the opened engine e. A bus on the
// engine's connection is closed with the engine; a separate one by the
// result's Close. Without a bus, the result's Bus is nil.
func (spec busSpec) open(ctx context.Context, e *engine, log *slog.Logger) (*openedBus, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	switch spec.kind {
	case "none":
		return &openedBus{where: "none"}, nil
	case "store":
		if e.bus == nil {
			return nil, fmt.Errorf("%w: the %s engine has no bus of its own", errBusURL, e.name)
		}
		return e.bus(log)
	}
	if eng, ok := servers[spec.kind]; ok && eng.bus != nil {
		return eng.bus(ctx, spec.conn, log)
	}
	return nil, fmt.Errorf("%w: unknown bus %q", errBusURL, spec.kind)
}
