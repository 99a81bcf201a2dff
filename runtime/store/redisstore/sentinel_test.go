package redisstore_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestSentinelConformance runs the suite through a Sentinel-managed
// client (redis.NewFailoverClient): a master and one sentinel the test
// starts itself on spare ports.
func TestSentinelConformance(t *testing.T) {
	master := redisserver.Start(t, envAddr)
	port := enginetest.FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	require.NoError(t, os.WriteFile(conf, []byte(
		"port "+strconv.Itoa(port)+"\n"+
			"bind 127.0.0.1\n"+
			"dir "+dir+"\n"+
			"sentinel monitor sessiongen 127.0.0.1 "+strconv.Itoa(master.Port())+" 1\n"), 0o600))
	var out bytes.Buffer
	cmd := exec.Command(master.Bin(), conf, "--sentinel")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	sentinelAddr := "127.0.0.1:" + strconv.Itoa(port)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr, MaxRetries: -1})
	defer sc.Close()
	waitFor(t, "the sentinel to know the master", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		addr, err := sc.GetMasterAddrByName(ctx, "sessiongen").Result()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(master.Port())
	})

	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "sessiongen",
		SentinelAddrs:         []string{sentinelAddr},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	ping(t, c, "sentinel "+sentinelAddr)
	prefix := testPrefix(t, c)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, c, prefix) })
}
