//go:build mysql

package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/sessiongen/sessiongen/runtime/store/mysqlstore"
)

// The MariaDB/MySQL engine, built in with -tags mysql.
func init() {
	servers["mysql"] = serverEngine{parse: parseMySQL, open: openMySQL}
}

// parseMySQL checks a mysql:// URL or go-sql-driver DSN.
func parseMySQL(raw, _, rest string, spec *storeSpec) error {
	cfg, err := mysqlConfig(raw, strings.TrimPrefix(rest, "//"))
	if err != nil {
		return err
	}
	spec.config = cfg
	spec.where = cfg.User + "@" + cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
	return nil
}

// openMySQL connects to the database, creating the table when missing.
func openMySQL(ctx context.Context, spec storeSpec, e *engine) error {
	conn, err := mysql.NewConnector(spec.config.(*mysql.Config))
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("mysql: ping %s: %w", spec.where, err)
	}
	s, err := mysqlstore.New(ctx, db, mysqlstore.WithCreateSchema(true))
	if err != nil {
		_ = db.Close()
		return err
	}
	e.Store = s
	e.closers = []func() error{s.Close, db.Close}
	return nil
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
