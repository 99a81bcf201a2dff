package servers

import (
	"context"
	"database/sql"
	"github.com/sessiongen/sessiongen/runtime/internal/nodetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/redisbus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/mysqlstore"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
)

// The engines without a bus transport of their own (bbolt, MariaDB/MySQL,
// DynamoDB) run their nodes in one process over the in-process bus, and
// Redis Cluster over redisbus on the cluster: enough for the races of
// RunRaces, which are decided by the engine.

// envVar returns the variable's value, skipping the test (naming the
// variable) when it is unset.
func envVar(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skip(name + " is not set: skipping the " + what + " nodes")
	}
	return v
}

// sharedEnv is an environment whose nodes share one engine handle over
// the in-process bus.
func sharedEnv(name string, open func(t testing.TB) store.Store) nodetest.Env {
	return nodetest.Env{Name: name, Open: func(t testing.TB) nodetest.Backend {
		st := open(t)
		l := bus.NewLocal()
		return nodetest.Backend{
			Node: func(testing.TB, int) (store.Store, bus.Bus) { return st, l },
			Outage: func(testing.TB) func() {
				l.SetDown(true)
				return func() { l.SetDown(false) }
			},
			Held: true,
		}
	}}
}

func boltEnv() nodetest.Env {
	return sharedEnv("bolt", func(t testing.TB) store.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func mysqlEnv(t testing.TB) nodetest.Env {
	dsn := envVar(t, "SESSIONGEN_MYSQL_DSN", "MariaDB/MySQL (mysqlstore)")
	return sharedEnv("mysql", func(t testing.TB) store.Store {
		db, err := sql.Open("mysql", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, db.PingContext(ctx), "MariaDB/MySQL does not answer")
		table := nodetest.Unique("nodetest_")
		s, err := mysqlstore.New(ctx, db, mysqlstore.WithCreateSchema(true), mysqlstore.WithTable(table))
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = s.Close()
			_, _ = db.Exec("DROP TABLE IF EXISTS `" + table + "`")
		})
		return s
	})
}

func dynamoEnv(t testing.TB) nodetest.Env {
	ep := envVar(t, "SESSIONGEN_DYNAMODB_ENDPOINT", "DynamoDB (dynamostore)")
	return sharedEnv("dynamodb", func(t testing.TB) store.Store {
		c := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("sessiongen", "sessiongen", ""),
			BaseEndpoint: aws.String(ep),
		})
		table := nodetest.Unique("nodetest-")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := dynamostore.New(ctx, c, table)
		require.NoError(t, err, "DynamoDB at %s", ep)
		t.Cleanup(func() {
			_, _ = c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		})
		return s
	})
}

func redisClusterEnv(t testing.TB) nodetest.Env {
	addrs := strings.Split(envVar(t, "SESSIONGEN_REDIS_CLUSTER_ADDRS", "Redis Cluster (redisstore + redisbus)"), ",")
	return nodetest.Env{Name: "redis-cluster", Open: func(t testing.TB) nodetest.Backend {
		prefix := nodetest.Unique("nodetest:") + ":"
		channel := nodetest.Unique("nodetest-bus-")
		return nodetest.Backend{
			Node: func(t testing.TB, _ int) (store.Store, bus.Bus) {
				sc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				bc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				t.Cleanup(func() { _ = sc.Close(); _ = bc.Close() })
				st, err := redisstore.New(sc, redisstore.WithPrefix(prefix))
				require.NoError(t, err)
				b, err := redisbus.New(bc, redisbus.WithChannel(channel))
				require.NoError(t, err)
				return st, b
			},
			Outage: func(testing.TB) func() { return func() {} },
		}
	}}
}

func TestRacesBolt(t *testing.T)         { nodetest.RunRaces(t, boltEnv()) }
func TestRacesMySQL(t *testing.T)        { nodetest.RunRaces(t, mysqlEnv(t)) }
func TestRacesDynamoDB(t *testing.T)     { nodetest.RunRaces(t, dynamoEnv(t)) }
func TestRacesRedisCluster(t *testing.T) { nodetest.RunRaces(t, redisClusterEnv(t)) }
func TestRacesRedis(t *testing.T)        { nodetest.RunRaces(t, redisEnv(t)) }
func TestRacesPostgres(t *testing.T)     { nodetest.RunRaces(t, postgresEnv(t)) }
