package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
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
	// config is what a server engine's parse made of the URL (the
	// MariaDB/MySQL driver's configuration).
	config any
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
	}
	if kind, ok := serverSchemes[strings.ToLower(scheme)]; ok {
		eng, ok := servers[kind]
		if !ok {
			return storeSpec{}, fmt.Errorf("%w: the %s engine is not built into this binary: build it with -tags %s", errStoreURL, kind, engineTags[kind])
		}
		spec := storeSpec{kind: kind}
		if err := eng.parse(raw, scheme, rest, &spec); err != nil {
			return storeSpec{}, err
		}
		return spec, nil
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

// engine is an opened storage engine and what must be closed with it.
type engine struct {
	store.Store
	// name is the engine's kind, where its location.
	name, where string
	// bus opens a bus on the engine's own connection (Redis pub/sub on
	// its client, PostgreSQL LISTEN/NOTIFY on its pool): the default
	// -bus. It is nil for engines without one.
	bus func(log *slog.Logger) (*openedBus, error)
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
	default:
		eng, ok := servers[spec.kind]
		if !ok {
			return nil, fmt.Errorf("%w: unknown engine %q", errStoreURL, spec.kind)
		}
		if err := eng.open(ctx, spec, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// serverEngine is a storage engine on a server, compiled in by its build
// tag (engine_*.go): the default build holds the memory and bbolt engines
// only, so that it compiles no driver it does not use.
type serverEngine struct {
	// parse checks a -store URL of the engine (scheme and rest are the
	// URL's parts around the first colon) and fills spec's location.
	// Errors wrap errStoreURL and never show a password.
	parse func(raw, scheme, rest string, spec *storeSpec) error
	// open connects to the engine spec names and fills e.
	open func(ctx context.Context, spec storeSpec, e *engine) error
	// bus opens a bus on a connection of its own to the server spec
	// names; nil for engines that carry no bus.
	bus func(ctx context.Context, spec storeSpec, log *slog.Logger) (*openedBus, error)
}

// servers are the server engines this binary holds, by kind.
var servers = map[string]serverEngine{}

// serverSchemes maps the -store URL schemes of the server engines to
// their kind.
var serverSchemes = map[string]string{
	"redis": "redis", "rediss": "redis", "redis+cluster": "redis-cluster", "rediss+cluster": "redis-cluster",
	"postgres": "postgres", "postgresql": "postgres",
	"mysql": "mysql", "mariadb": "mysql",
	"dynamodb": "dynamodb",
}

// engineTags is the build tag that compiles in each server engine.
var engineTags = map[string]string{
	"redis": "redis", "redis-cluster": "redis", "postgres": "postgres", "mysql": "mysql", "dynamodb": "dynamodb",
}
