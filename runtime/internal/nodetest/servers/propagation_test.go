package servers

import (
	"github.com/sessiongen/sessiongen/runtime/internal/nodetest"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
)

// BenchmarkPropagation measures how long a write on node A takes to be
// seen on node B: each iteration sets a new value on A, then reads on B
// (cache reads, no engine call until the message arrives) until B sees
// it. It reports the 50th and 99th percentiles of that time in
// milliseconds, from the start of the Set (p50-ms, p99-ms: the engine
// write included) and from its return (after-write-p50-ms,
// after-write-p99-ms: the message and B's reload). Run 1000 trials with
//
//	go test -run '^$' -bench Propagation -benchtime 1000x ./runtime/internal/nodetest/
func BenchmarkPropagation(b *testing.B) {
	b.Run("local", func(b *testing.B) { propagation(b, nodetest.Local()) })
	b.Run("redis", func(b *testing.B) { propagation(b, redisEnv(b)) })
	b.Run("postgres", func(b *testing.B) { propagation(b, postgresEnv(b)) })
}

func propagation(b *testing.B, env nodetest.Env) {
	c := nodetest.NewCluster(b, env, nodetest.Options{})
	a, n := c.A(), c.B()
	ck := a.Create("n", int64(0))
	nodetest.Warm(b, ck, 0, n)
	times := make([]time.Duration, 0, b.N)
	after := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := int64(1); i <= int64(b.N); i++ {
		start := time.Now()
		var err error
		a.Do(ck, func(r *http.Request, s *session.Session) { err = s.Set(r.Context(), "n", i) })
		require.NoError(b, err)
		written := time.Now()
		for {
			v, _, _ := n.Get(ck, "n")
			if v == i {
				break
			}
			if time.Since(start) > nodetest.Wait {
				b.Fatalf("trial %d: B did not see the write within %v", i, nodetest.Wait)
			}
			time.Sleep(20 * time.Microsecond) // leave the CPU to the bus and the engine client
		}
		now := time.Now()
		times = append(times, now.Sub(start))
		after = append(after, now.Sub(written))
	}
	b.StopTimer()
	ms := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(times, 0.50), "p50-ms")
	b.ReportMetric(ms(times, 0.99), "p99-ms")
	b.ReportMetric(ms(after, 0.50), "after-write-p50-ms")
	b.ReportMetric(ms(after, 0.99), "after-write-p99-ms")
	b.ReportMetric(0, "ns/op")
}
