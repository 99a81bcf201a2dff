package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	scsmysql "github.com/alexedwards/scs/mysqlstore"
	"github.com/go-sql-driver/mysql"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store/mysqlstore"
)

// mysqlDSNEnv names the variable holding the MariaDB/MySQL DSN.
const mysqlDSNEnv = "SESSIONGEN_MYSQL_DSN"

// mysqlEnv is a MariaDB/MySQL database of its own (created for one
// benchmark, dropped at cleanup) holding sessiongen's table and scs's
// "sessions" table, and one pool of 32 connections that both libraries
// share, counting its statements.
type mysqlEnv struct {
	db *sql.DB
	rt *counter
}

// newMySQLEnv connects to the server named by SESSIONGEN_MYSQL_DSN,
// skipping when it is unset and failing when it does not answer.
func newMySQLEnv(tb testing.TB) *mysqlEnv {
	tb.Helper()
	dsn := os.Getenv(mysqlDSNEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the MariaDB/MySQL comparison", mysqlDSNEnv)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", mysqlDSNEnv, err)
	}
	ctx, cancel := context.WithTimeout(background, 30*time.Second)
	defer cancel()
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		tb.Fatalf("%s: %v", mysqlDSNEnv, err)
	}
	defer admin.Close()
	name := fmt.Sprintf("sgbench_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("%s: create database: %v", mysqlDSNEnv, err)
	}
	tb.Cleanup(func() {
		a, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			tb.Errorf("mysql cleanup: %v", err)
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(background, "DROP DATABASE "+name); err != nil {
			tb.Errorf("mysql cleanup: %v", err)
		}
	})
	cfg.DBName = name
	cfg.ParseTime = true // scs's mysqlstore scans expiry times
	e := &mysqlEnv{rt: &counter{}}
	// Each write on a connection is one command sent; the driver waits
	// for the answer of each but the closing of a prepared statement.
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, c: e.rt}, nil
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatalf("%s: %v", mysqlDSNEnv, err)
	}
	e.db = sql.OpenDB(connector)
	e.db.SetMaxOpenConns(clients)
	e.db.SetMaxIdleConns(clients)
	tb.Cleanup(func() { _ = e.db.Close() })
	ddl := []string{
		// From scs's mysqlstore README.
		`CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	}
	for _, q := range ddl {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			tb.Fatalf("mysql setup: %s: %v", q, err)
		}
	}
	e.rt.reset()
	return e
}

// sessiongen returns sessiongen on the mysqlstore engine.
func (e *mysqlEnv) sessiongen(tb testing.TB, storeOpts ...mysqlstore.Option) lib {
	tb.Helper()
	st, err := mysqlstore.New(background, e.db, append([]mysqlstore.Option{
		mysqlstore.WithTable("sg_sessions"),
		mysqlstore.WithCreateSchema(true),
		mysqlstore.WithCleanupInterval(0)}, storeOpts...)...)
	if err != nil {
		tb.Fatalf("mysqlstore.New: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return sessiongenLib(tb, session.WithStore(st))
}

// scs returns scs on its mysqlstore, without its cleanup goroutine.
func (e *mysqlEnv) scs() lib {
	return scsLib(scsmysql.NewWithCleanupInterval(e.db, 0))
}

// BenchmarkMySQL compares sessiongen's mysqlstore (a JSON column per
// session, changed in place) with scs's mysqlstore (a row per session
// holding the gob blob, replaced whole), sharing one pool: serial
// requests, 32 concurrent readers, and the write sweep from 1 to 128
// clients. rtt/op is the statements per request.
func BenchmarkMySQL(b *testing.B) {
	e := newMySQLEnv(b)
	libs := []lib{e.sessiongen(b), e.scs()}
	counters := map[string]*counter{"sessiongen": e.rt, "sessiongen-alone": e.rt, "scs": e.rt}
	alone := e.sessiongen(b, mysqlstore.WithMaxGroup(1))
	alone.name = "sessiongen-alone"
	runLibs(b, libs, counters, true, alone)
}
