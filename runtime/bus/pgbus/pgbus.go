// Package pgbus is a [bus.Bus] on PostgreSQL LISTEN/NOTIFY, built on
// github.com/jackc/pgx/v5. It serves beside pgstore or any other engine
// whose nodes share a PostgreSQL server.
//
// # Messages
//
// Publish is one `SELECT pg_notify(channel, payload)` on the pool, with
// the message in the wire format of package bus ([bus.Encode]: short
// printable ASCII, far below NOTIFY's 8000-byte payload limit). Every
// listener on the channel, the publisher's own included, receives it once
// the statement's transaction commits, in commit order. What is notified
// while a listener is disconnected is lost, which is why Subscribe
// reports state changes. Payloads that do not decode are skipped, counted
// ([Bus.Malformed]) and logged; they never end a subscription.
//
// # The listener connection
//
// Subscribe does not take a connection from the pool: it opens one of its
// own from a copy of the pool's connection settings
// (pool.Config().ConnConfig), with application_name set by
// [WithApplicationName], runs LISTEN on it and waits for notifications.
// So a subscription never holds one of the pool's connections, and the
// pool's BeforeConnect and AfterConnect hooks do not run for it: settings
// that only such a hook supplies (a password fetched per connection, for
// instance) do not reach the listener. LISTEN needs a session of its own
// on the server: point the pool at PostgreSQL itself or at a pooler in
// session mode, not at one in transaction mode.
//
// # Failure detection
//
// The listener connection is watched: every health-check interval
// ([WithHealthCheck]; [Bus.SubscribeProved] may ask for a shorter one) it
// sends a notification to itself on a private channel it also listens on
// (a probe, one at a time). An error (the server closed the connection,
// restarted, or pg_terminate_backend ended it), or a probe not back
// within the interval, counts as a loss. Subscribe then reports it
// (state(false)), closes the connection and connects and listens anew
// with exponential backoff (50ms up to 2s, jittered), reporting
// state(true) once LISTEN has succeeded. A connection the server closes
// is noticed at once; one that silently stops answering within two
// intervals of its last returned probe.
//
// Each returned probe also proves that every message published before
// the probe was sent has been delivered: [Bus.SubscribeProved] passes
// these proofs on ([bus.Prover]), which is how a session manager keeps
// its staleness bound exact even before a stall is detected.
//
// The Bus never closes the pool: it stays owned by the caller.
package pgbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/resub"
)

// errInvalid reports arguments the Bus refuses before any round trip.
var errInvalid = errors.New("invalid argument")

// Bus is a [bus.Bus] on PostgreSQL LISTEN/NOTIFY. It is safe for
// concurrent use; create it with [New].
type Bus struct {
	pool   *pgxpool.Pool
	cfg    config
	conn   *pgx.ConnConfig // listener connection settings; never modified after New
	listen string          // the LISTEN statement
	log    *slog.Logger
	dec    resub.Decoder
}

var _ bus.Prover = (*Bus)(nil)

// New returns a Bus on pool. It checks its arguments but does not contact
// the server: Publish and Subscribe do.
func New(pool *pgxpool.Pool, opts ...Option) (*Bus, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgbus: new: %w: nil pool", errInvalid)
	}
	cfg := config{channel: DefaultChannel, appName: DefaultApplicationName, health: DefaultHealthCheck}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	switch {
	case cfg.channel == "":
		return nil, fmt.Errorf("pgbus: new: %w: empty channel name", errInvalid)
	case len(cfg.channel) > maxChannel:
		return nil, fmt.Errorf("pgbus: new: %w: channel name of %d bytes, longer than %d", errInvalid, len(cfg.channel), maxChannel)
	case strings.ContainsRune(cfg.channel, 0):
		return nil, fmt.Errorf("pgbus: new: %w: channel name holds a NUL byte", errInvalid)
	case strings.ContainsRune(cfg.appName, 0):
		return nil, fmt.Errorf("pgbus: new: %w: application name holds a NUL byte", errInvalid)
	case cfg.health <= 0:
		return nil, fmt.Errorf("pgbus: new: %w: health-check interval %v is not positive", errInvalid, cfg.health)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	cc := pool.Config().ConnConfig // a copy
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = cfg.appName
	// pgx buffers notifications for WaitForNotification only when no
	// handler of the caller's takes them.
	cc.OnNotification = nil
	// A health-check timeout must only end the wait, not send a cancel
	// request to the server or close the connection.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	return &Bus{
		pool:   pool,
		cfg:    cfg,
		conn:   cc,
		listen: "LISTEN " + pgx.Identifier{cfg.channel}.Sanitize(),
		log:    log,
		dec:    resub.Decoder{Log: log, Name: "pgbus", Channel: cfg.channel},
	}, nil
}

// Publish sends m to every listener on the channel with one pg_notify on
// the pool. A message that fails [bus.Message.Validate] is refused (the
// error wraps [bus.ErrMalformed]) and nothing is sent.
func (b *Bus) Publish(ctx context.Context, m bus.Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("pgbus: publish: %w", err)
	}
	if _, err := b.pool.Exec(ctx, "SELECT pg_notify($1, $2)", b.cfg.channel, string(bus.Encode(m))); err != nil {
		return fmt.Errorf("pgbus: publish: %w", err)
	}
	return nil
}

// Malformed returns how many received payloads the Bus's subscriptions
// skipped because they were not messages in the wire format, since New.
func (b *Bus) Malformed() uint64 { return b.dec.Malformed() }
