package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
	"github.com/sessiongen/sessiongen/runtime/store/mysqlstore"
	"github.com/sessiongen/sessiongen/runtime/store/pgstore"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// storeUsage documents the -store flag.
const storeUsage = `storage engine URL (default: a bbolt file sessions.db under -data):
  memory:                           in-process, lost on exit
  bolt:PATH                         bbolt file at PATH
  redis://[user:pass@]host:port/DB  Redis (rediss:// for TLS;
                                    redis+cluster://host:port?addr=host2:port2 for a cluster)
  postgres://user@host:port/db      PostgreSQL (tables created when missing)
  mysql://user:pass@host:port/db    MariaDB/MySQL (or mysql://user@tcp(host:port)/db,
                                    a go-sql-driver DSN; table created when missing)
  dynamodb://host:port/table        local DynamoDB engine at http://host:port
                                    (dummy credentials, region us-east-1; table created when missing)`

// errStoreURL reports a -store value that cannot be understood: an
// unknown scheme or a malformed URL. The program exits with status 2.
var errStoreURL = errors.New("invalid -store URL")

// defaultBoltFile is the file name of the default engine under -data.
const defaultBoltFile = "sessions.db"

// openTimeout bounds how long connecting to an engine may take at start.
const openTimeout = 30 * time.Second

// storeSpec is a parsed -store URL.
type storeSpec struct {
	// kind is the engine: memory, bolt, redis, redis-cluster, postgres,
	// mysql or dynamodb.
	kind string
	// where describes the location for the log, without a password.
	where string
	// path is the bbolt file (bolt).
	path string
	// url is the URL given to the driver (redis, redis-cluster,
	// postgres).
	url string
	// mysql is the driver configuration (mysql).
	mysql *mysql.Config
	// endpoint and table locate the DynamoDB table (dynamodb).
	endpoint, table string
}

// parseStoreURL parses the -store flag. An empty raw means the default: a
// bbolt file under dataDir. Errors wrap errStoreURL.
func parseStoreURL(raw, dataDir string) (storeSpec, error) {
	if raw == "" {
		p := filepath.Join(dataDir, defaultBoltFile)
		return storeSpec{kind: "bolt", path: p, where: p}, nil
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return storeSpec{}, fmt.Errorf("%w %q: no scheme (want memory:, bolt:PATH, redis://, postgres://, mysql:// or dynamodb://)", errStoreURL, raw)
	}
	switch strings.ToLower(scheme) {
	case "memory", "mem":
		if strings.Trim(rest, "/") != "" {
			return storeSpec{}, fmt.Errorf("%w %q: memory: takes no location", errStoreURL, raw)
		}
		return storeSpec{kind: "memory", where: "in-process memory"}, nil
	case "bolt", "bbolt":
		p := strings.TrimPrefix(rest, "//") // bolt:///abs/path or bolt://rel/path
		if p == "" {
			p = filepath.Join(dataDir, defaultBoltFile)
		}
		return storeSpec{kind: "bolt", path: p, where: p}, nil
	case "redis", "rediss":
		u, err := parseURL(raw)
		if err != nil {
			return storeSpec{}, err
		}
		if _, err := redis.ParseURL(raw); err != nil {
			return storeSpec{}, fmt.Errorf("%w %s: %v", errStoreURL, u.Redacted(), err)
		}
		return storeSpec{kind: "redis", url: raw, where: u.Redacted()}, nil
	case "redis+cluster", "rediss+cluster":
		u, err := parseURL(raw)
		if err != nil {
			return storeSpec{}, err
		}
		plain := strings.TrimSuffix(strings.ToLower(scheme), "+cluster") + ":" + rest
		if _, err := redis.ParseClusterURL(plain); err != nil {
			return storeSpec{}, fmt.Errorf("%w %s: %v", errStoreURL, u.Redacted(), err)
		}
		return storeSpec{kind: "redis-cluster", url: plain, where: u.Redacted()}, nil
	case "postgres", "postgresql":
		u, err := parseURL(raw)
		if err != nil {
			return storeSpec{}, err
		}
		if _, err := pgxpool.ParseConfig(raw); err != nil {
			return storeSpec{}, fmt.Errorf("%w %s: %v", errStoreURL, u.Redacted(), err)
		}
		return storeSpec{kind: "postgres", url: raw, where: u.Redacted()}, nil
	case "mysql", "mariadb":
		cfg, err := mysqlConfig(raw, strings.TrimPrefix(rest, "//"))
		if err != nil {
			return storeSpec{}, err
		}
		where := cfg.User + "@" + cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
		return storeSpec{kind: "mysql", mysql: cfg, where: where}, nil
	case "dynamodb":
		u, err := parseURL(raw)
		if err != nil {
			return storeSpec{}, err
		}
		table := strings.Trim(u.Path, "/")
		if u.Host == "" || table == "" || strings.Contains(table, "/") {
			return storeSpec{}, fmt.Errorf("%w %q: want dynamodb://host:port/table", errStoreURL, raw)
		}
		ep := "http://" + u.Host
		return storeSpec{kind: "dynamodb", endpoint: ep, table: table, where: ep + " table " + table}, nil
	}
	return storeSpec{}, fmt.Errorf("%w: unknown scheme %q (want memory:, bolt:PATH, redis://, postgres://, mysql:// or dynamodb://)", errStoreURL, scheme)
}

// parseURL parses raw as a URL with a host. Errors wrap errStoreURL and
// never show the password.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return nil, fmt.Errorf("%w: cannot parse it as a URL", errStoreURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w %s: no host", errStoreURL, u.Redacted())
	}
	return u, nil
}

// mysqlConfig parses a mysql: URL. dsn is the part after "mysql://": either
// a go-sql-driver DSN (user:pass@tcp(host:port)/db?params) or the rest of
// a URL (user:pass@host:port/db?params), which it converts.
func mysqlConfig(raw, dsn string) (*mysql.Config, error) {
	if !strings.Contains(dsn, "(") { // URL form: convert to a driver DSN
		u, err := parseURL(raw)
		if err != nil {
			return nil, err
		}
		c := mysql.NewConfig()
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
		c.Net = "tcp"
		c.Addr = u.Host
		if u.Port() == "" {
			c.Addr = u.Host + ":3306"
		}
		c.DBName = strings.TrimPrefix(u.Path, "/")
		dsn = c.FormatDSN()
		if u.RawQuery != "" {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			dsn += sep + u.RawQuery
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's errors do not repeat the DSN.
		return nil, fmt.Errorf("%w: mysql: %v", errStoreURL, err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("%w: mysql: no database name (want mysql://user@host:port/db)", errStoreURL)
	}
	return cfg, nil
}

// engine is an opened storage engine and what must be closed with it.
type engine struct {
	store.Store
	// name is the engine's kind, where its location.
	name, where string
	// redis is the client of a redis or redis-cluster engine, pool the
	// pool of a postgres engine: the default -bus shares them.
	redis redis.UniversalClient
	pool  *pgxpool.Pool
	// closers run in order by Close.
	closers []func() error
}

// Close closes the engine, then the client or file under it.
func (e *engine) Close() error {
	var errs []error
	for _, c := range e.closers {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// open connects to the engine spec names, creating what it needs (the
// data directory, SQL tables, the DynamoDB table). It fails when the
// engine cannot be reached within openTimeout.
func (spec storeSpec) open(ctx context.Context) (*engine, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	e := &engine{name: spec.kind, where: spec.where}
	switch spec.kind {
	case "memory":
		s := memstore.New()
		e.Store, e.closers = s, []func() error{s.Close}
	case "bolt":
		if err := os.MkdirAll(filepath.Dir(spec.path), 0o700); err != nil {
			return nil, fmt.Errorf("bolt: create the data directory: %w", err)
		}
		s, err := boltstore.Open(spec.path)
		if err != nil {
			return nil, err
		}
		e.Store, e.closers = s, []func() error{s.Close}
	case "redis", "redis-cluster":
		client, err := spec.redisClient(ctx)
		if err != nil {
			return nil, err
		}
		s, err := redisstore.New(client)
		if err != nil {
			_ = client.Close()
			return nil, err
		}
		e.Store, e.redis, e.closers = s, client, []func() error{client.Close}
	case "postgres":
		pool, err := spec.pgPool(ctx)
		if err != nil {
			return nil, err
		}
		s, err := pgstore.New(ctx, pool, pgstore.WithCreateSchema(true))
		if err != nil {
			pool.Close()
			return nil, err
		}
		e.Store, e.pool = s, pool
		e.closers = []func() error{s.Close, func() error { pool.Close(); return nil }}
	case "mysql":
		conn, err := mysql.NewConnector(spec.mysql)
		if err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		db := sql.OpenDB(conn)
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("mysql: ping %s: %w", spec.where, err)
		}
		s, err := mysqlstore.New(ctx, db, mysqlstore.WithCreateSchema(true))
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		e.Store = s
		e.closers = []func() error{s.Close, db.Close}
	case "dynamodb":
		client := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("sessiongen-demo", "sessiongen-demo", ""),
			BaseEndpoint: aws.String(spec.endpoint),
		})
		s, err := dynamostore.New(ctx, client, spec.table)
		if err != nil {
			return nil, err
		}
		e.Store = s
	default:
		return nil, fmt.Errorf("%w: unknown engine %q", errStoreURL, spec.kind)
	}
	return e, nil
}

// redisClient connects to the Redis server or cluster of a redis or
// redis-cluster spec and checks that it answers.
func (spec storeSpec) redisClient(ctx context.Context) (redis.UniversalClient, error) {
	var client redis.UniversalClient
	if spec.kind == "redis" {
		opts, err := redis.ParseURL(spec.url)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		client = redis.NewClient(opts)
	} else {
		opts, err := redis.ParseClusterURL(spec.url)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		client = redis.NewClusterClient(opts)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", spec.where, err)
	}
	return client, nil
}

// pgPool opens a connection pool to the database of a postgres spec and
// checks that it answers.
func (spec storeSpec) pgPool(ctx context.Context) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, spec.url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s: %w", spec.where, err)
	}
	return pool, nil
}
