package pgbus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
	"github.com/sessiongen/sessiongen/runtime/bus/pgbus"
)

// envDSN names the variable holding the PostgreSQL connection string the
// tests use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envDSN = "SESSIONGEN_POSTGRES_DSN"

// testConfig returns a pool config for the server in envDSN, skipping the
// test when the variable is unset.
func testConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	dsn := strings.TrimSpace(os.Getenv(envDSN))
	if dsn == "" {
		t.Skipf("%s is not set: skipping tests against PostgreSQL (set it to a connection string such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", envDSN)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err, "parse %s", envDSN)
	return cfg
}

// openPool opens a pool from cfg without contacting the server, and
// closes it at the end of the test.
func openPool(t *testing.T, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err, "pool")
	t.Cleanup(pool.Close)
	return pool
}

// testPool opens a pool on the server in envDSN and fails the test when
// the server does not answer.
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := openPool(t, testConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL from %s does not answer: %v", envDSN, err)
	}
	return pool
}

// newBus returns a Bus on pool and channel.
func newBus(t *testing.T, pool *pgxpool.Pool, channel string, opts ...pgbus.Option) *pgbus.Bus {
	t.Helper()
	b, err := pgbus.New(pool, append([]pgbus.Option{pgbus.WithChannel(channel)}, opts...)...)
	require.NoError(t, err)
	return b
}

// notify sends payload on channel as it is.
func notify(t *testing.T, pool *pgxpool.Pool, channel, payload string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), "SELECT pg_notify($1, $2)", channel, payload)
	require.NoError(t, err)
}

// transport is the shared tests' view of pgbus on the server in envDSN.
var transport = bustest.Transport{
	Name: "pgbus",
	New: func(t *testing.T, channel string) bus.Bus {
		return newBus(t, testPool(t), channel)
	},
	Inject: func(t *testing.T, channel, payload string) {
		notify(t, testPool(t), channel, payload)
	},
	Malformed: func(b bus.Bus) uint64 { return b.(*pgbus.Bus).Malformed() },
}

func TestBus(t *testing.T) {
	testConfig(t)
	bustest.Run(t, transport)
}

// TestChannelExact: the channel name is used as given, case and quotes
// included, and does not hear a channel that differs only in case.
func TestChannelExact(t *testing.T) {
	pool := testPool(t)
	ch := `Mixed "Case" ` + bustest.UniqueName("")
	b := newBus(t, pool, ch)
	lower := newBus(t, pool, strings.ToLower(ch))
	r, rl := bustest.Subscribe(t, b), bustest.Subscribe(t, lower)
	r.WaitUps(1, bustest.Wait)
	rl.WaitUps(1, bustest.Wait)
	m := bustest.Msg("n", "k", 1)
	bustest.Publish(t, b, m)
	assert.Equal(t, []bus.Message{m}, r.WaitMessages(1, bustest.Wait))
	ml := bustest.Msg("n", "k", 2)
	bustest.Publish(t, lower, ml)
	assert.Equal(t, []bus.Message{ml}, rl.WaitMessages(1, bustest.Wait))
	assert.Equal(t, []bus.Message{m}, r.Messages())
}

// TestApplicationName: the listener connection carries the configured
// application_name, and it runs the Bus's own statements.
func TestApplicationName(t *testing.T) {
	pool := testPool(t)
	app := bustest.UniqueName("sessiongen-test-")
	ch := bustest.Channel()
	r := bustest.Subscribe(t, newBus(t, pool, ch, pgbus.WithApplicationName(app)))
	r.WaitUps(1, bustest.Wait)
	var n int
	var query string
	err := pool.QueryRow(context.Background(),
		"SELECT count(*), max(query) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n, &query)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	// Its last statement: the LISTEN, or one of the probes that follow.
	if !strings.HasPrefix(query, `LISTEN "`+ch+`"; LISTEN "sessiongen_probe_`) {
		assert.Regexp(t, `^NOTIFY "sessiongen_probe_[0-9a-f]{16}", '[0-9]+'$`, query)
	}
}

func TestNewInvalid(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	require.NoError(t, err)
	pool := openPool(t, cfg) // never contacted
	for name, opts := range map[string][]pgbus.Option{
		"empty channel":        {pgbus.WithChannel("")},
		"long channel":         {pgbus.WithChannel(strings.Repeat("c", 64))},
		"NUL in channel":       {pgbus.WithChannel("a\x00b")},
		"NUL in app name":      {pgbus.WithApplicationName("a\x00b")},
		"zero health check":    {pgbus.WithHealthCheck(0)},
		"negative healthcheck": {pgbus.WithHealthCheck(-time.Second)},
	} {
		b, err := pgbus.New(pool, opts...)
		assert.Nil(t, b, name)
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "pgbus: new: "), "%s: %v", name, err)
	}
	_, err = pgbus.New(nil)
	require.Error(t, err)
	b, err := pgbus.New(pool, nil, pgbus.WithChannel(strings.Repeat("c", 63)), pgbus.WithLogger(nil))
	require.NoError(t, err, "63 bytes and nil options are fine")
	assert.NotNil(t, b)
}

// TestMalformedLogged checks that a skipped payload is logged, without
// its content.
func TestMalformedLogged(t *testing.T) {
	ch := bustest.Channel()
	var logs bustest.LogBuffer
	sub := newBus(t, testPool(t), ch, pgbus.WithLogger(logs.Logger()))
	bustest.MalformedLogged(t, transport, sub, ch, &logs)
}
