//go:build redis && postgres && mysql && dynamodb

package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStoreURL(t *testing.T) {
	for _, tc := range []struct {
		raw, kind, where, path string
	}{
		{"", "bolt", filepath.Join("datadir", "sessions.db"), filepath.Join("datadir", "sessions.db")},
		{"memory:", "memory", "in-process memory", ""},
		{"MEMORY://", "memory", "in-process memory", ""},
		{"bolt:/tmp/x.db", "bolt", "/tmp/x.db", "/tmp/x.db"},
		{"bolt:rel/x.db", "bolt", "rel/x.db", "rel/x.db"},
		{"bolt:///abs/x.db", "bolt", "/abs/x.db", "/abs/x.db"},
		{"bolt:", "bolt", filepath.Join("datadir", "sessions.db"), filepath.Join("datadir", "sessions.db")},
		{"redis://127.0.0.1:6379/2", "redis", "redis://127.0.0.1:6379/2", ""},
		{"redis://:secret@127.0.0.1:6379/0", "redis", "redis://:xxxxx@127.0.0.1:6379/0", ""},
		{"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", "redis-cluster", "redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", ""},
		{"postgres://u:pw@127.0.0.1:5432/test?sslmode=disable", "postgres", "postgres://u:xxxxx@127.0.0.1:5432/test?sslmode=disable", ""},
		{"postgresql://u@db/test", "postgres", "postgresql://u@db/test", ""},
		{"mysql://root@tcp(127.0.0.1:3306)/test", "mysql", "root@tcp(127.0.0.1:3306)/test", ""},
		{"mysql://root:pw@127.0.0.1:3307/test", "mysql", "root@tcp(127.0.0.1:3307)/test", ""},
		{"mysql://root@db/test", "mysql", "root@tcp(db:3306)/test", ""},
		{"dynamodb://127.0.0.1:8000/sessions", "dynamodb", "http://127.0.0.1:8000 table sessions", ""},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			spec, err := parseStoreURL(tc.raw, "datadir")
			require.NoError(t, err)
			assert.Equal(t, tc.kind, spec.kind)
			assert.Equal(t, tc.where, spec.where)
			assert.Equal(t, tc.path, spec.path)
			assert.NotContains(t, spec.where, "pw")
			assert.NotContains(t, spec.where, "secret")
		})
	}
}

func TestParseStoreURLMySQL(t *testing.T) {
	spec, err := parseStoreURL("mysql://me:p%40ss@127.0.0.1:3307/shop?timeout=5s&charset=utf8mb4", "")
	require.NoError(t, err)
	c, _ := spec.config.(*mysql.Config)
	require.NotNil(t, c)
	assert.Equal(t, "me", c.User)
	assert.Equal(t, "p@ss", c.Passwd, "the URL's escapes are undone")
	assert.Equal(t, "tcp", c.Net)
	assert.Equal(t, "127.0.0.1:3307", c.Addr)
	assert.Equal(t, "shop", c.DBName)
	assert.Equal(t, 5*time.Second, c.Timeout, "query parameters reach the driver")
	assert.Contains(t, c.FormatDSN(), "charset=utf8mb4", "query parameters reach the driver")

	spec, err = parseStoreURL("mysql://root:pw@unix(/run/mysqld/mysqld.sock)/test?parseTime=true", "")
	require.NoError(t, err)
	assert.Equal(t, "unix", spec.config.(*mysql.Config).Net)
	assert.Equal(t, "/run/mysqld/mysqld.sock", spec.config.(*mysql.Config).Addr)
	assert.Equal(t, "pw", spec.config.(*mysql.Config).Passwd)
	assert.True(t, spec.config.(*mysql.Config).ParseTime)
}

func TestParseStoreURLErrors(t *testing.T) {
	for _, tc := range []struct{ raw, msg string }{
		{"ftp://host/x", `unknown scheme "ftp"`},
		{"sessions.db", "no scheme"},
		{"memory:somewhere", "memory: takes no location"},
		{"redis://", "no host"},
		{"redis://:secret@127.0.0.1:6379/x", "invalid -store URL"},
		{"redis://127.0.0.1:6379/0?bogus_option=1", "bogus_option"},
		{"postgres://u:secret@127.0.0.1:5432/db?pool_max_conns=x", "invalid -store URL"},
		{"mysql://root:secret@127.0.0.1:3306", "no database name"},
		{"mysql://root:secret@tcp(127.0.0.1:3306/test", "invalid -store URL"},
		{"mysql://root:secret@127.0.0.1:3306/test?bogus=%zz", "invalid -store URL"},
		{"dynamodb://127.0.0.1:8000", "want dynamodb://host:port/table"},
		{"dynamodb://127.0.0.1:8000/a/b", "want dynamodb://host:port/table"},
		{"dynamodb:///table", "no host"},
		{"postgres://u:secret@[::1", "cannot parse it as a URL"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := parseStoreURL(tc.raw, "")
			require.ErrorIs(t, err, errStoreURL)
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "secret", "errors never show the password")
		})
	}
}

// engineURL returns the -store URL for an engine from the environment
// variable env (as .ci/run sets it), or skips the test naming it.
func engineURL(t *testing.T, env string, toURL func(v string) string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is not set: skipping the demo on this engine", env)
	}
	return toURL(v)
}

// TestEngines runs the demo as main does with -store on each engine:
// sign in, fill the cart, restart, and find the session again (except on
// the memory engine, which forgets everything at exit).
func TestEngines(t *testing.T) {
	const table = "sessiongen_demo"
	for _, tc := range []struct {
		name    string
		url     func(t *testing.T) string
		durable bool
	}{
		{"memory", func(*testing.T) string { return "memory:" }, false},
		{"bolt", func(t *testing.T) string { return "bolt:" + filepath.Join(t.TempDir(), "demo.db") }, true},
		{"redis", func(t *testing.T) string {
			return engineURL(t, "SESSIONGEN_REDIS_ADDR", func(v string) string { return "redis://" + v + "/0" })
		}, true},
		{"redis-cluster", func(t *testing.T) string {
			return engineURL(t, "SESSIONGEN_REDIS_CLUSTER_ADDRS", func(v string) string {
				addrs := strings.Split(v, ",")
				q := url.Values{}
				for _, a := range addrs[1:] {
					q.Add("addr", strings.TrimSpace(a))
				}
				u := "redis+cluster://" + strings.TrimSpace(addrs[0])
				if len(q) > 0 {
					u += "?" + q.Encode()
				}
				return u
			})
		}, true},
		{"postgres", func(t *testing.T) string {
			return engineURL(t, "SESSIONGEN_POSTGRES_DSN", func(v string) string {
				if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
					t.Fatalf("SESSIONGEN_POSTGRES_DSN must be a postgres:// URL for the demo, got a keyword DSN")
				}
				return v
			})
		}, true},
		{"mysql", func(t *testing.T) string {
			return engineURL(t, "SESSIONGEN_MYSQL_DSN", func(v string) string { return "mysql://" + v })
		}, true},
		{"dynamodb", func(t *testing.T) string {
			return engineURL(t, "SESSIONGEN_DYNAMODB_ENDPOINT", func(v string) string {
				u, err := url.Parse(v)
				require.NoError(t, err, "SESSIONGEN_DYNAMODB_ENDPOINT")
				return "dynamodb://" + u.Host + "/" + table
			})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storeURL := tc.url(t)
			p := start(t, "-store", storeURL)
			assert.Contains(t, p.logs.String(), "msg=listening")

			b := newBrowser(t, p.base)
			b.login("alice")
			require.Equal(t, http.StatusOK, b.addItem("apple").status)
			me := b.me()
			require.Equal(t, "alice", me.User)
			require.Equal(t, []string{"apple"}, me.Cart)
			jsonError(t, b.addItem(strings.Repeat("x", maxItemLen+1)), http.StatusRequestEntityTooLarge)
			require.Equal(t, 0, p.stop())

			p = start(t, "-store", storeURL)
			b.base = p.base
			if !tc.durable {
				jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
				return
			}
			me = b.me()
			assert.Equal(t, "alice", me.User)
			assert.Equal(t, int64(2), me.Visits)
			assert.Equal(t, []string{"apple"}, me.Cart)

			require.Equal(t, http.StatusSeeOther, b.post("/logout").status)
			jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
			require.Equal(t, 0, p.stop())
		})
	}
}
